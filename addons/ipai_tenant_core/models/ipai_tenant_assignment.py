from odoo import api, fields, models

ROLES = [
    ("owner", "Owner"),
    ("admin", "Administrator"),
    ("manager", "Manager"),
    ("member", "Member"),
    ("viewer", "Viewer"),
]
# Roles that let a provider manager manage the tenant and its subtree.
MANAGING_ROLES = ("owner", "admin", "manager")


class IpaiTenantAssignment(models.Model):
    _name = "ipai.tenant.assignment"
    _description = "Tenant assignment"
    _inherit = ["ipai.audited.mixin"]
    _audit_label = "assignment"
    _order = "tenant_id, role, user_id"

    user_id = fields.Many2one("res.users", required=True, ondelete="cascade", index=True)
    tenant_id = fields.Many2one("ipai.tenant", required=True, ondelete="cascade", index=True)
    role = fields.Selection(ROLES, required=True, default="member")

    _sql_constraints = [
        (
            "user_tenant_unique",
            "unique(user_id, tenant_id)",
            "This user already has a role on this tenant.",
        ),
    ]

    def _audit_tenant(self):
        return self.tenant_id

    # Record rules read the assignments through res.users; their cached
    # domains must follow every change.
    @api.model_create_multi
    def create(self, vals_list):
        assignments = super().create(vals_list)
        self.env.registry.clear_cache()
        return assignments

    def write(self, vals):
        result = super().write(vals)
        self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result
