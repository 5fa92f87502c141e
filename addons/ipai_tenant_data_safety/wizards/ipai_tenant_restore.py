from odoo import fields, models


class IpaiTenantRestore(models.TransientModel):
    _name = "ipai.tenant.restore"
    _description = "Restore a tenant backup"
    _inherit = ["ipai.text.input.mixin"]

    backup_id = fields.Many2one("ipai.tenant.backup", required=True, readonly=True)
    mode = fields.Selection(
        [
            ("in_place", "In place (replaces the tenant's current data)"),
            ("new", "Into a new tenant"),
        ],
        required=True,
        default="in_place",
    )
    code = fields.Char(string="New code")
    name = fields.Char(string="New name")

    def action_restore(self):
        self.ensure_one()
        target = self.backup_id._restore(self.mode, self.code, self.name)
        return target._form_action()
