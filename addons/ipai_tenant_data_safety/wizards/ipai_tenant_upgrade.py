from odoo import fields, models
from odoo.addons.ipai_platform_rules import lifecycle


class IpaiTenantUpgradeWizard(models.TransientModel):
    _name = "ipai.tenant.upgrade.wizard"
    _description = "Upgrade tenants"

    modules = fields.Char(help="Comma-separated module names; empty: each tenant's module set.")
    tenant_ids = fields.Many2many(
        "ipai.tenant",
        string="Tenants",
        domain=[("state", "in", (lifecycle.ACTIVE, lifecycle.SUSPENDED))],
        help="Empty: every active or suspended tenant.",
    )
    concurrency = fields.Integer(default=2, required=True)

    def action_start(self):
        self.ensure_one()
        run = self.env["ipai.tenant.upgrade.run"]._start(
            tenant_codes=self.tenant_ids.mapped("code") or None,
            modules=(self.modules or "").split(","),
            concurrency=self.concurrency,
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": "ipai.tenant.upgrade.run",
            "res_id": run.id,
            "view_mode": "form",
        }
