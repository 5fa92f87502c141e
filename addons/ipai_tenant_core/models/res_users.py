from odoo import api, fields, models

from .ipai_tenant_assignment import ADMINISTER, OBSERVE, OPERATE, READ, roles_with


class ResUsers(models.Model):
    _inherit = "res.users"

    ipai_assignment_ids = fields.One2many(
        "ipai.tenant.assignment", "user_id", string="Tenant roles"
    )
    # The tenants whose subtrees this user reaches with a given power; the
    # record rules read them (a role holds on the tenant's whole subtree).
    ipai_reachable_tenant_ids = fields.Many2many(
        "ipai.tenant", compute="_compute_ipai_tenants", help="Any role: read."
    )
    ipai_observed_tenant_ids = fields.Many2many(
        "ipai.tenant", compute="_compute_ipai_tenants", help="Member and up: jobs, usage."
    )
    ipai_managed_tenant_ids = fields.Many2many(
        "ipai.tenant", compute="_compute_ipai_tenants", help="Manager and up: change."
    )
    ipai_administered_tenant_ids = fields.Many2many(
        "ipai.tenant", compute="_compute_ipai_tenants", help="Administrator and up."
    )

    @api.depends("ipai_assignment_ids.role", "ipai_assignment_ids.tenant_id")
    def _compute_ipai_tenants(self):
        # Record rules evaluate this for the current user, who may not read
        # the assignments table; the result only ever names their own tenants.
        assignments = (
            self.env["ipai.tenant.assignment"].sudo().search([("user_id", "in", self.ids)])
        )
        # Another user's tenants are told to no one but platform staff: a
        # provider reading a colleague of another provider learns nothing.
        sees_all = self.env.su or self.env.user.has_group("ipai_tenant_core.group_platform_user")
        fields_by_power = {
            "ipai_reachable_tenant_ids": roles_with(READ),
            "ipai_observed_tenant_ids": roles_with(OBSERVE),
            "ipai_managed_tenant_ids": roles_with(OPERATE),
            "ipai_administered_tenant_ids": roles_with(ADMINISTER),
        }
        for user in self:
            own = assignments.filtered(lambda a, u=user: a.user_id == u)
            visible = user == self.env.user or sees_all
            for field_name, roles in fields_by_power.items():
                user[field_name] = (
                    own.filtered(lambda a, r=roles: a.role in r).tenant_id if visible else False
                )
