from odoo import models


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
