"""What data safety adds to a tenant: its backups and the action that
backs it up (forms, the REST API and the CLI call it)."""

from odoo import fields, models
from odoo.addons.ipai_platform_rules import roles


class IpaiTenant(models.Model):
    _inherit = "ipai.tenant"

    backup_ids = fields.One2many("ipai.tenant.backup", "tenant_id", string="Backups")

    def action_backup(self):
        self._queue_jobs(
            roles.OPERATE, "backup", self.env._("Backing up"), params={"kind": "manual"}
        )
        return True
