from odoo import Command, api, fields, models
from odoo.addons.ipai_platform_rules.roles import (
    ADMINISTER,
    OBSERVE,
    OPERATE,
    OWN,
    OWNER,
    READ,
    roles_with,
)
from odoo.exceptions import UserError
from odoo.tools import clean_context, email_normalize


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

    @api.model
    def _ipai_add_staff(self, tenant, name, email, role):
        """Make a new platform user who works on ``tenant`` (and its
        subtree) with ``role``, and invite them by mail to choose a password:
        how a provider's administrators onboard their staff (the "Add staff
        member" button on the tenant's Team tab, docs/roles.md).

        The user gets the provider group and nothing else, whatever the
        caller's context says: no accounting, no settings, no other
        provider's tenants. The role is given as the caller, so the team
        rules of assignments hold (administrators add up to administrator,
        only an owner adds an owner)."""
        tenant = tenant.with_env(self.env)
        tenant.ensure_one()
        name, email = (name or "").strip(), (email or "").strip().lower()
        if not name or not email_normalize(email):
            raise UserError(self.env._("Give the staff member's name and a valid e-mail address."))
        # The caller's power first, before anything is made.
        tenant._check_power(ADMINISTER)
        if role == OWNER:
            tenant._check_power(OWN)
        users = self.sudo().with_context(active_test=False)
        if users.search_count([("login", "=ilike", email)]):
            raise UserError(
                self.env._(
                    "%s already has an account on the platform; ask platform staff to give "
                    "it a role.",
                    email,
                )
            )
        provider_group = self.env.ref("ipai_tenant_core.group_provider_manager")
        # A clean context: no default_* key (groups, company, share...) of
        # the caller reaches the new user; the invitation mail is Odoo's own.
        user = users.with_context(clean_context(self.env.context)).create(
            {
                "name": name,
                "login": email,
                "email": email,
                "groups_id": [Command.set(provider_group.ids)],
            }
        )
        # As superuser: the powers were checked above, and the new user is on
        # no team yet (assignments otherwise only go to team members).
        self.env["ipai.tenant.assignment"].sudo().with_context(
            clean_context(self.env.context)
        ).create({"user_id": user.id, "tenant_id": tenant.id, "role": role})
        return user.with_env(self.env)
