from odoo import fields, models
from odoo.addons.ipai_platform_rules.roles import ADMIN, ROLES


class IpaiTenantStaffAdd(models.TransientModel):
    """The "Add staff member" button of a tenant's Team tab: a new platform
    user with a role on this tenant (res.users._ipai_add_staff)."""

    _name = "ipai.tenant.staff.add"
    _description = "Add a staff member to a tenant's team"
    _inherit = ["ipai.text.input.mixin"]

    tenant_id = fields.Many2one("ipai.tenant", required=True, readonly=True)
    name = fields.Char(required=True)
    email = fields.Char(
        string="E-mail",
        required=True,
        help="Their login; Odoo mails them a link to set a password.",
    )
    role = fields.Selection(ROLES, required=True, default=ADMIN)

    def action_add(self):
        self.ensure_one()
        self.env["res.users"]._ipai_add_staff(self.tenant_id, self.name, self.email, self.role)
        return {"type": "ir.actions.act_window_close"}
