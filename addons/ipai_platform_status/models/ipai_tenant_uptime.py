"""Every active tenant probed every minute, kept per hour: its uptime and
response time, on its form and as a chart.

A probe asks the nodes of the tenant's cell for its login page by its host
name, in the cell's order, as the proxy fails over: the tenant is up when
one of them serves it. Suspended tenants and tenants in maintenance are not
probed: they are what they are, not down. An hour keeps its probes,
failures and response times in one row (a month of a tenant is 720 rows),
written with one statement per probe round; rows older than
``KEEP_DAYS`` are dropped.
"""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import requests
from odoo import api, fields, models
from odoo.addons.ipai_platform_rules import lifecycle

_logger = logging.getLogger(__name__)

PROBE_TIMEOUT = 5
KEEP_DAYS = 90
WINDOW_DAYS = 30


def probe(nodes, host):
    """(answered, milliseconds): the first node of ``nodes`` that serves
    ``host``'s login page, as the proxy would reach it."""
    started = time.monotonic()
    for node in nodes:
        try:
            response = requests.get(
                f"http://{node}/web/login",
                headers={"Host": host},
                timeout=PROBE_TIMEOUT,
                allow_redirects=False,
            )
        except requests.RequestException:
            continue
        if response.status_code == 200:
            return True, int((time.monotonic() - started) * 1000)
    return False, int((time.monotonic() - started) * 1000)


class IpaiTenantUptime(models.Model):
    _name = "ipai.tenant.uptime"
    _description = "Tenant probes of an hour"
    _order = "hour desc"

    hour = fields.Datetime(required=True, readonly=True)
    tenant_id = fields.Many2one("ipai.tenant", required=True, ondelete="cascade", index=True)
    probes = fields.Integer(readonly=True, aggregator="sum")
    failures = fields.Integer(readonly=True, aggregator="sum")
    total_ms = fields.Integer(readonly=True, aggregator="sum")
    uptime_percent = fields.Float("Uptime (%)", readonly=True, aggregator="avg", digits=(5, 2))
    avg_ms = fields.Float("Response (ms)", readonly=True, aggregator="avg", digits=(10, 1))
    max_ms = fields.Integer("Slowest (ms)", readonly=True, aggregator="max")

    _sql_constraints = [
        ("one_row_per_hour", "UNIQUE (tenant_id, hour)", "One row per tenant and hour.")
    ]

    @api.model
    def _record(self, results, at):
        """Add each (tenant id, answered, ms) of ``results`` to its hour."""
        if not results:
            return
        hour = at.replace(minute=0, second=0, microsecond=0)
        rows = [(tenant_id, hour, 0 if ok else 1, ms) for tenant_id, ok, ms in results]
        self.env.cr.execute(
            """INSERT INTO ipai_tenant_uptime AS u
                      (tenant_id, hour, probes, failures, total_ms, max_ms,
                       uptime_percent, avg_ms, create_uid, create_date, write_uid, write_date)
               SELECT r.tenant_id, r.hour, 1, r.failed, r.ms, r.ms,
                      100.0 * (1 - r.failed), r.ms, %(uid)s, now(), %(uid)s, now()
                 FROM unnest(%(tenants)s::int[], %(hours)s::timestamp[], %(failed)s::int[],
                             %(ms)s::int[]) AS r(tenant_id, hour, failed, ms)
               ON CONFLICT (tenant_id, hour) DO UPDATE SET
                      probes = u.probes + 1,
                      failures = u.failures + excluded.failures,
                      total_ms = u.total_ms + excluded.total_ms,
                      max_ms = greatest(u.max_ms, excluded.max_ms),
                      uptime_percent = 100.0 * (u.probes + 1 - u.failures - excluded.failures)
                                       / (u.probes + 1),
                      avg_ms = (u.total_ms + excluded.total_ms)::float / (u.probes + 1),
                      write_date = now()""",
            {
                "uid": self.env.uid,
                "tenants": [row[0] for row in rows],
                "hours": [row[1] for row in rows],
                "failed": [row[2] for row in rows],
                "ms": [row[3] for row in rows],
            },
        )
        self.invalidate_model()

    @api.model
    def _prune(self):
        self.env.cr.execute(
            "DELETE FROM ipai_tenant_uptime WHERE hour < now() at time zone 'UTC' - %s",
            [timedelta(days=KEEP_DAYS)],
        )


class IpaiTenant(models.Model):
    _inherit = "ipai.tenant"

    uptime_30d = fields.Float(
        "Uptime (30 days, %)",
        compute="_compute_uptime",
        digits=(5, 2),
        groups="ipai_tenant_core.group_platform_user",
    )
    response_ms_24h = fields.Float(
        "Response (24 h, ms)",
        compute="_compute_uptime",
        digits=(10, 1),
        groups="ipai_tenant_core.group_platform_user",
    )

    def _compute_uptime(self):
        now = fields.Datetime.now()
        month = self._uptime_sums(now - timedelta(days=WINDOW_DAYS))
        day = self._uptime_sums(now - timedelta(days=1))
        for tenant in self:
            probes, failures, _ms = month.get(tenant.id, (0, 0, 0))
            tenant.uptime_30d = 100.0 * (probes - failures) / probes if probes else 0.0
            probes, _failures, total_ms = day.get(tenant.id, (0, 0, 0))
            tenant.response_ms_24h = total_ms / probes if probes else 0.0

    def _uptime_sums(self, since):
        ids = [tenant_id for tenant_id in self.ids if isinstance(tenant_id, int)]
        if not ids:
            return {}
        self.env.cr.execute(
            """SELECT tenant_id, sum(probes), sum(failures), sum(total_ms)
                 FROM ipai_tenant_uptime WHERE tenant_id = ANY(%s) AND hour >= %s
                GROUP BY tenant_id""",
            [ids, since.replace(minute=0, second=0, microsecond=0)],
        )
        return {row[0]: row[1:] for row in self.env.cr.fetchall()}

    def _probe_targets(self):
        """(tenant, its cell's nodes, its host) of the tenants to probe."""
        targets = []
        for tenant in self:
            nodes = tenant.cell_id._nodes() if tenant.cell_id else []
            if tenant.state == lifecycle.ACTIVE and nodes and tenant.primary_domain:
                targets.append((tenant, nodes, tenant.primary_domain))
        return targets

    def _probe(self):
        targets = self._probe_targets()
        at = fields.Datetime.now()
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(lambda target: probe(target[1], target[2]), targets))
        results = [
            (tenant.id, ok, ms)
            for (tenant, _nodes, _host), (ok, ms) in zip(targets, answers, strict=True)
        ]
        for (tenant, _nodes, host), (ok, _ms) in zip(targets, answers, strict=True):
            if not ok:
                _logger.warning("probe: %s (%s) did not answer", tenant.code, host)
        self.env["ipai.tenant.uptime"]._record(results, at)
        return results

    def action_probe_now(self):
        self._probe()

    @api.model
    def _cron_probe_tenants(self, limit=2000):
        tenants = self.search([("state", "=", lifecycle.ACTIVE)], order="id", limit=limit)
        tenants._probe()
        self.env["ipai.tenant.uptime"]._prune()

    def action_view_uptime(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "ipai_platform_status.ipai_tenant_uptime_action"
        )
        action["display_name"] = self.env._("Uptime of %s", self.code)
        action["domain"] = [("tenant_id", "=", self.id)]
        return action
