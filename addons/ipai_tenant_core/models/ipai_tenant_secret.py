from odoo import api, fields, models

WELCOME_LINK = "welcome_link"
SECRET_KINDS = [
    ("admin_password", "Tenant administrator password"),
    ("db_role_password", "Tenant database role password"),
    (WELCOME_LINK, "Set-password link of the welcome mail, until the mail is made"),
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
    def _lock_next(self, kind, skip=()):
        """The oldest secret of ``kind`` (ids in ``skip`` aside), locked
        until the end of the transaction; one another transaction holds is
        skipped, so two workers never take the same one."""
        self.flush_model()
        self.env.cr.execute(
            """SELECT id FROM ipai_tenant_secret
                WHERE kind = %s AND NOT id = ANY(%s)
             ORDER BY id LIMIT 1
                  FOR NO KEY UPDATE SKIP LOCKED""",
            [kind, list(skip)],
        )
        row = self.env.cr.fetchone()
        return self.browse(row[0] if row else [])

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
