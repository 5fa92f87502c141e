from odoo import fields, models


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
        clone = self.source_id._clone(self.code, self.name, self.with_data)
        return clone._form_action()
