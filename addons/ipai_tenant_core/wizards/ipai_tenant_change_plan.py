from odoo import fields, models
from odoo.exceptions import UserError

from ..models.ipai_tenant_assignment import OPERATE


class IpaiTenantChangePlan(models.TransientModel):
    _name = "ipai.tenant.change.plan"
    _description = "Change a tenant's plan"

    tenant_id = fields.Many2one("ipai.tenant", required=True, readonly=True)
    current_plan_id = fields.Many2one(related="tenant_id.plan_id", string="Current plan")
    plan_id = fields.Many2one("ipai.tenant.plan", string="New plan", required=True)

    def action_apply(self):
        self.ensure_one()
        tenant = self.tenant_id
        tenant._check_power(OPERATE)
        tenant._ensure_action_allowed("change_plan", self.env._("Changing the plan"))
        if self.plan_id == tenant.plan_id:
            raise UserError(self.env._("%s is already on this plan.", tenant.code))
        tenant.plan_id = self.plan_id
        # A provisioned database must learn its new limits; a draft has none yet.
        if tenant.state != "draft":
            self.env["ipai.tenant.job"]._enqueue(
                tenant, "change_plan", {"plan_code": self.plan_id.code}
            )
        return {"type": "ir.actions.act_window_close"}
