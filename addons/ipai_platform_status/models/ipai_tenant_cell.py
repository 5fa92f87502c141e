"""A cell's nodes, probed: what the status page says of the cell."""

import logging
from concurrent.futures import ThreadPoolExecutor

import requests
from odoo import api, fields, models

_logger = logging.getLogger(__name__)

OPERATIONAL, DEGRADED, DOWN, UNKNOWN = "operational", "degraded", "down", "unknown"
STATUSES = [
    (OPERATIONAL, "Operational"),
    (DEGRADED, "Degraded"),
    (DOWN, "Down"),
    (UNKNOWN, "Not monitored"),
]
# A node that does not answer its health check within this is down.
PROBE_TIMEOUT = 3


def node_answers(address):
    """Whether the node at ``address`` (host:port) answers Odoo's health
    check, which needs no database."""
    try:
        return requests.get(f"http://{address}/web/health", timeout=PROBE_TIMEOUT).ok
    except requests.RequestException:
        return False


def cell_status(up, total):
    if not total:
        return UNKNOWN
    if up == total:
        return OPERATIONAL
    return DOWN if up == 0 else DEGRADED


class IpaiTenantCell(models.Model):
    _inherit = "ipai.tenant.cell"

    status = fields.Selection(STATUSES, default=UNKNOWN, required=True, readonly=True)
    nodes_up = fields.Integer("Nodes answering", readonly=True)
    nodes_total = fields.Integer("Nodes", readonly=True)
    status_checked_at = fields.Datetime("Probed at", readonly=True)

    def _nodes(self):
        self.ensure_one()
        return [line.strip() for line in (self.node_addresses or "").splitlines() if line.strip()]

    def _probe_nodes(self):
        """Ask every node of these cells at once; store each cell's status."""
        nodes = {cell: cell._nodes() for cell in self}
        addresses = sorted({address for found in nodes.values() for address in found})
        with ThreadPoolExecutor(max_workers=8) as pool:
            answering = dict(zip(addresses, pool.map(node_answers, addresses), strict=True))
        now = fields.Datetime.now()
        for cell, found in nodes.items():
            up = sum(answering[address] for address in found)
            status = cell_status(up, len(found))
            if status != cell.status:
                _logger.info("cell %s: %s (%d of %d nodes)", cell.code, status, up, len(found))
            cell.write(
                {
                    "status": status,
                    "nodes_up": up,
                    "nodes_total": len(found),
                    "status_checked_at": now,
                }
            )

    def action_probe_nodes(self):
        self._probe_nodes()

    @api.model
    def _cron_probe_nodes(self, limit=200):
        # The least recently probed first: beyond ``limit`` cells, the next
        # minute takes the rest.
        self.search([], order="status_checked_at asc nulls first", limit=limit)._probe_nodes()
