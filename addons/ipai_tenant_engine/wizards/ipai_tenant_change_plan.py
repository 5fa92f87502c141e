from odoo import fields, models


class IpaiTenantChangePlan(models.TransientModel):
    _name = "ipai.tenant.change.plan"
    _description = "Change a tenant's plan"

    tenant_id = fields.Many2one("ipai.tenant", required=True, readonly=True)
    current_plan_id = fields.Many2one(related="tenant_id.plan_id", string="Current plan")
    plan_id = fields.Many2one("ipai.tenant.plan", string="New plan", required=True)

    def action_apply(self):
        self.ensure_one()
        self.tenant_id._change_plan(self.plan_id)
        return {"type": "ir.actions.act_window_close"}
