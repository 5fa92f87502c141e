from odoo import api, fields, models

SECRET_KINDS = [
    ("admin_password", "Tenant administrator password"),
    ("db_role_password", "Tenant database role password"),
]


class IpaiTenantSecret(models.Model):
    """Tenant credentials, Fernet-encrypted; readable by no group, only by
    the platform's own code (sudo) through the methods below."""

    _name = "ipai.tenant.secret"
    _description = "Tenant credential (encrypted)"

    tenant_id = fields.Many2one("ipai.tenant", required=True, ondelete="cascade", index=True)
    kind = fields.Selection(SECRET_KINDS, required=True)
    token = fields.Char(required=True, help="Fernet token; never the plain value.")
    one_time = fields.Boolean(help="Shown to a person once, then only kept for the record.")
    revealed = fields.Boolean()

    _sql_constraints = [
        ("tenant_kind_unique", "unique(tenant_id, kind)", "One credential of each kind per tenant.")
    ]

    @api.model
    def _put(self, tenant, kind, token, one_time=False):
        existing = self.search([("tenant_id", "=", tenant.id), ("kind", "=", kind)])
        values = {"token": token, "one_time": one_time, "revealed": False}
        if existing:
            existing.write(values)
        else:
            self.create({"tenant_id": tenant.id, "kind": kind, **values})

    @api.model
    def _get(self, tenant, kind):
        return self.search([("tenant_id", "=", tenant.id), ("kind", "=", kind)]).token

    @api.model
    def _take(self, tenant, kind):
        """The token of a one-time secret not yet shown; marks it shown."""
        self.env.cr.execute(
            """UPDATE ipai_tenant_secret SET revealed = true
                WHERE tenant_id = %s AND kind = %s AND one_time AND NOT revealed
            RETURNING token""",
            [tenant.id, kind],
        )
        row = self.env.cr.fetchone()
        self.invalidate_model(["revealed"])
        return row[0] if row else None
