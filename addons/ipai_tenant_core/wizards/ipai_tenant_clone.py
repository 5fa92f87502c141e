from odoo import fields, models
from odoo.exceptions import UserError

from ..models.ipai_tenant import CLONING
from ..models.ipai_tenant_assignment import OPERATE


class IpaiTenantClone(models.TransientModel):
    _name = "ipai.tenant.clone"
    _description = "Clone a tenant"
    _inherit = ["ipai.text.input.mixin"]

    source_id = fields.Many2one("ipai.tenant", string="Source tenant", required=True, readonly=True)
    code = fields.Char(string="New code", required=True)
    name = fields.Char(string="New name", required=True)
    with_data = fields.Boolean(
        help="Copy the business data and files too (neutralized). Otherwise only "
        "the module set is reproduced in an empty database."
    )

    def action_clone(self):
        self.ensure_one()
        source = self.source_id
        # Whatever id was sent for the source: the caller must be able to read it.
        source.check_access("read")
        source._check_power(OPERATE)
        source._ensure_action_allowed("clone", self.env._("Cloning"))
        problem = self.env["ipai.tenant"]._new_code_problem(self.code)
        if problem:
            raise UserError(problem)
        cloning = CLONING.set(True)
        try:
            clone = self._create_clone(source)
        finally:
            CLONING.reset(cloning)
        self.env["ipai.tenant.job"]._enqueue(
            clone, "clone", {"source_code": source.code, "with_data": self.with_data}
        )
        clone._set_state_from_engine("provisioning")
        return {
            "type": "ir.actions.act_window",
            "res_model": "ipai.tenant",
            "res_id": clone.id,
            "view_mode": "form",
        }

    def _create_clone(self, source):
        return self.env["ipai.tenant"].create(
            {
                "code": self.code,
                "name": self.name,
                "tenant_type": source.tenant_type
                if source.tenant_type != "platform_owner"
                else "client",
                "parent_id": source.parent_id.id,
                "plan_id": source.plan_id.id,
                "server_id": source.server_id.id,
                "admin_email": source.admin_email,
                "industry": source.industry,
                "country_id": source.country_id.id,
            }
        )
