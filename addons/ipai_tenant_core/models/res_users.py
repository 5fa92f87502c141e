from odoo import api, fields, models

from .ipai_tenant_assignment import MANAGING_ROLES


class ResUsers(models.Model):
    _inherit = "res.users"

    ipai_assignment_ids = fields.One2many(
        "ipai.tenant.assignment", "user_id", string="Tenant roles"
    )
    ipai_managed_tenant_ids = fields.Many2many(
        "ipai.tenant",
        compute="_compute_ipai_managed_tenant_ids",
        help="Tenants whose subtree this user manages; record rules read it.",
    )

    @api.depends("ipai_assignment_ids.role", "ipai_assignment_ids.tenant_id")
    def _compute_ipai_managed_tenant_ids(self):
        # Record rules evaluate this for the current user, who may not read
        # the assignments table; the result only ever names their own tenants.
        assignments = (
            self.env["ipai.tenant.assignment"]
            .sudo()
            .search([("user_id", "in", self.ids), ("role", "in", MANAGING_ROLES)])
        )
        # Another user's tenants are told to no one but platform staff: a
        # provider reading a colleague of another provider learns nothing.
        sees_all = self.env.su or self.env.user.has_group("ipai_tenant_core.group_platform_user")
        for user in self:
            if user == self.env.user or sees_all:
                user.ipai_managed_tenant_ids = assignments.filtered(
                    lambda a, u=user: a.user_id == u
                ).tenant_id
            else:
                user.ipai_managed_tenant_ids = False
