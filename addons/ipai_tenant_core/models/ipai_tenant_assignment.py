"""Who holds which role on which tenant (the role table and its powers are
ipai_platform_rules.roles)."""

from odoo import api, fields, models
from odoo.addons.ipai_platform_rules.roles import (
    ADMINISTER,
    MEMBER,
    OWN,
    OWNER,
    ROLES,
)
from odoo.exceptions import AccessError


class IpaiTenantAssignment(models.Model):
    _name = "ipai.tenant.assignment"
    _description = "Tenant assignment"
    _inherit = ["ipai.audited.mixin"]
    _audit_label = "assignment"
    _order = "tenant_id, role, user_id"

    user_id = fields.Many2one("res.users", required=True, ondelete="cascade", index=True)
    tenant_id = fields.Many2one("ipai.tenant", required=True, ondelete="cascade", index=True)
    role = fields.Selection(ROLES, required=True, default=MEMBER)

    _sql_constraints = [
        (
            "user_tenant_unique",
            "unique(user_id, tenant_id)",
            "This user already has a role on this tenant.",
        ),
    ]

    def _audit_tenant(self):
        return self.tenant_id

    def _check_team_power(self, tenant, roles):
        """Administrators manage their team; only an owner hands out (or
        takes away) ownership, which is how a tenant is transferred. Nobody
        changes their own role."""
        tenant = tenant.with_env(self.env)
        if self.env.su or tenant._is_platform_manager():
            return
        tenant._check_power(ADMINISTER)
        if OWNER in roles:
            tenant._check_power(OWN)

    def _check_not_self(self, user_ids):
        if (
            not self.env.su
            and self.env.uid in user_ids
            and not self.env["ipai.tenant"]._is_platform_manager()
        ):
            raise AccessError(self.env._("You cannot change your own role."))

    # Record rules read the assignments through res.users; their cached
    # domains must follow every change.
    @api.model_create_multi
    def create(self, vals_list):
        assignments = super().create(vals_list)
        # On what was stored: tenant, user and role may come from the values
        # or from the caller's context defaults.
        assignments._check_stored_team_power()
        assignments._check_user_in_team()
        self.env.registry.clear_cache()
        return assignments

    def write(self, vals):
        # What the assignments were (taking a role away is a team change)...
        for assignment in self:
            self._check_team_power(assignment.tenant_id, {assignment.role})
        self._check_not_self(set(self.user_id.ids))
        users_before = {assignment: assignment.user_id for assignment in self}
        result = super().write(vals)
        # ... and what they are now.
        self._check_stored_team_power()
        self.filtered(lambda a: a.user_id != users_before[a])._check_user_in_team()
        self.env.registry.clear_cache()
        return result

    def _check_stored_team_power(self):
        for assignment in self:
            stored = assignment.sudo()
            self._check_team_power(stored.tenant_id, {stored.role})
        self._check_not_self(set(self.sudo().user_id.ids))

    def _check_user_in_team(self):
        """A role goes to someone already on the caller's team: a user who
        holds a role on a tenant the caller administers (or below it). Any
        other platform user (another provider's staff, platform staff, an
        accountant) is not theirs to enlist, and a role would make them
        readable to the caller; new staff come through "Add staff member"."""
        if self.env.su or self.env["ipai.tenant"]._is_platform_manager():
            return
        administered = self.env.user.sudo().ipai_administered_tenant_ids
        team_tenants = self.env["ipai.tenant"].sudo().search([("id", "child_of", administered.ids)])
        for assignment in self.sudo():
            others = assignment.user_id.ipai_assignment_ids - assignment
            if not others.filtered(lambda a: a.tenant_id in team_tenants):
                raise AccessError(
                    self.env._(
                        "%(user)s is not on your team; add new staff with "
                        '"Add staff member" on the tenant\'s Team tab.',
                        user=assignment.user_id.name,
                    )
                )

    def unlink(self):
        for assignment in self:
            self._check_team_power(assignment.tenant_id, {assignment.role})
        self._check_not_self(set(self.user_id.ids))
        result = super().unlink()
        self.env.registry.clear_cache()
        return result
