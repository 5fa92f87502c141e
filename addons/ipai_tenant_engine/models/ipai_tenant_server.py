import logging

import psycopg2
from odoo import models
from odoo.addons.ipai_tenant_core.infra import pg

_logger = logging.getLogger(__name__)


class IpaiTenantServer(models.Model):
    _inherit = "ipai.tenant.server"

    def _extra_database_count(self):
        """Warm-pool members waiting on this server (a claimed one is counted
        as its tenant's, which is provisioning)."""
        return super()._extra_database_count() + (
            self.env["ipai.tenant.pool.member"]
            .sudo()
            .search_count(
                [("server_id", "=", self.id), ("state", "in", ("building", "ready", "stale"))]
            )
        )

    def _has_database_marked(self, database, mark):
        """Whether this server holds ``database`` with the platform's
        ``mark``; a server that cannot be reached holds nothing usable now
        (a signup goes elsewhere instead of failing)."""
        self.ensure_one()
        try:
            return pg.database_mark(self._pg_server(), database) == mark
        except psycopg2.OperationalError as exc:
            _logger.warning("server %s unreachable: %s", self.name, str(exc).strip())
            return False
