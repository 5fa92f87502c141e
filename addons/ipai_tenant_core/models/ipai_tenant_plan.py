from odoo import api, fields, models
from odoo.addons.ipai_platform_rules import lifecycle
from odoo.exceptions import ValidationError

# The tenant-side addons every tenant database gets, whatever its plan.
TENANT_BASE_MODULES = ("base", "web", "mail")
# Plan fields the tenant runtime reads (ipai_tenant_routing view).
ROUTED_PLAN_FIELDS = {
    "code",
    "name",
    "max_users",
    "max_users_per_company",
    "max_companies",
    "module_ids",
    "feature_bi",
    "max_mails_day",
    "feature_own_smtp",
}

# The mail fields' help, as the plan form shows it (docs/operations.md,
# "Tenants' mail").
MAILS_DAY_HELP = (
    "Recipients the platform's mail relay accepts from a tenant on this plan per day "
    "(UTC), counted by the relay's policy service where the tenant cannot reach; 0: no "
    "limit. Mail through the tenant's own SMTP server is not counted."
)
OWN_SMTP_HELP = (
    "Tenants may send through an SMTP server of their own (Settings > Technical > "
    "Outgoing Mail Servers). Without it, every mail goes through the platform's relay "
    "and a mail server record of the tenant's own is refused when used."
)


class IpaiTenantPlan(models.Model):
    _name = "ipai.tenant.plan"
    _description = "Tenant plan"
    _inherit = ["ipai.text.input.mixin", "ipai.audited.mixin"]
    _audit_label = "plan"
    _order = "sequence, price_monthly, id"

    code = fields.Char(required=True)
    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    currency_id = fields.Many2one(
        "res.currency", required=True, default=lambda self: self.env.ref("base.USD")
    )
    price_monthly = fields.Monetary(string="Monthly price", currency_field="currency_id")
    price_annual = fields.Monetary(string="Annual price", currency_field="currency_id")
    max_companies = fields.Integer(string="Companies", default=1)
    max_users = fields.Integer(string="Users", default=3)
    max_users_per_company = fields.Integer(string="Users per company", default=3)
    max_transactions_month = fields.Integer(string="Transactions per month", default=100)
    max_storage_gb = fields.Float(string="Storage (GB)", default=1.0)
    api_rate_limit = fields.Integer(
        string="API rate limit", default=60, help="Requests per minute allowed on the API."
    )
    api_key_max_days = fields.Integer(
        string="API key validity (days)",
        default=90,
        help="The longest validity of an API key its tenants' administrators make "
        "(platform managers are not capped); also the default validity.",
    )
    max_mails_day = fields.Integer(string="Mails per day", default=200, help=MAILS_DAY_HELP)
    trial_days = fields.Integer(help="Length of the free trial of tenants on this plan.")
    feature_bi = fields.Boolean(string="Embedded BI")
    feature_api = fields.Boolean(string="API access")
    feature_custom_domain = fields.Boolean(string="Custom domains")
    feature_white_label = fields.Boolean(string="White label")
    feature_sub_tenants = fields.Boolean(string="Sub-tenants")
    feature_own_smtp = fields.Boolean(string="Own SMTP server", help=OWN_SMTP_HELP)
    module_ids = fields.Many2many(
        "ir.module.module",
        string="Modules",
        help="Odoo modules installed in the database of a tenant on this plan, "
        "on top of base, web, mail and the tenant-side addons.",
    )
    pool_size = fields.Integer(
        string="Warm pool",
        default=0,
        help="Ready databases kept for signups on this plan: a signup takes one and is "
        "active in a fraction of a second. Each holds a database on a server.",
    )
    backup_interval_hours = fields.Integer(
        string="Backup every (hours)",
        default=24,
        help="Scheduled backups of each tenant on this plan; 0: none.",
    )
    backup_keep_daily = fields.Integer(string="Daily backups kept", default=7)
    backup_keep_weekly = fields.Integer(string="Weekly backups kept", default=4)
    backup_keep_monthly = fields.Integer(string="Monthly backups kept", default=12)
    tenant_ids = fields.One2many("ipai.tenant", "plan_id", string="Tenants")
    tenant_count = fields.Integer(compute="_compute_tenant_count")

    _sql_constraints = [
        ("code_unique", "unique(code)", "Another plan already uses this code."),
        (
            "limits_positive",
            "CHECK(max_companies >= 1 AND max_users >= 1 AND max_users_per_company >= 1 "
            "AND max_transactions_month >= 0 AND max_storage_gb >= 0 AND trial_days >= 0 "
            "AND pool_size >= 0 AND backup_interval_hours >= 0 AND backup_keep_daily >= 0 "
            "AND backup_keep_weekly >= 0 AND backup_keep_monthly >= 0 "
            "AND api_rate_limit >= 0 AND max_mails_day >= 0)",
            "Plan limits must be positive: at least one company and one user.",
        ),
        (
            "api_key_max_days_positive",
            "CHECK(api_key_max_days >= 1)",
            "API keys of a plan are valid for at least one day.",
        ),
        (
            "prices_positive",
            "CHECK(COALESCE(price_monthly, 0) >= 0 AND COALESCE(price_annual, 0) >= 0)",
            "Plan prices cannot be negative.",
        ),
    ]

    @api.constrains("max_users", "max_users_per_company")
    def _check_user_limits(self):
        for plan in self:
            if plan.max_users_per_company > plan.max_users:
                raise ValidationError(
                    self.env._("%s: users per company cannot exceed the plan's users.", plan.name)
                )

    def write(self, vals):
        # Tenants on this plan keep the modules it installed in them.
        before = {plan: set(plan._module_names()) for plan in self} if "module_ids" in vals else {}
        result = super().write(vals)
        for plan, names in before.items():
            removed = names - set(plan._module_names())
            if removed:
                tenants = self.env["ipai.tenant"].sudo().search([("plan_id", "=", plan.id)])
                tenants.filtered(lambda t: t.state != lifecycle.DRAFT)._keep_modules(removed)
        if ROUTED_PLAN_FIELDS & set(vals):
            # The tenant runtime enforces limits and module sets from the
            # routing view: tell it to reload.
            self.env["ipai.tenant"]._bump_routing_version()
        return result

    def _compute_tenant_count(self):
        groups = self.env["ipai.tenant"]._read_group(
            [("plan_id", "in", self.ids)], groupby=["plan_id"], aggregates=["__count"]
        )
        counts = {plan.id: count for plan, count in groups}
        for plan in self:
            plan.tenant_count = counts.get(plan.id, 0)

    def _module_names(self):
        """The full, sorted module set of a tenant database on this plan."""
        self.ensure_one()
        # Only the names: a module's prefetched columns include its
        # translated descriptions, read on every step of every job.
        modules = self.with_context(prefetch_fields=False).module_ids
        return sorted(set(TENANT_BASE_MODULES) | set(modules.mapped("name")))

    def _storage_bytes(self):
        """The plan's storage in bytes (a GB is 1024 MB, as billing counts
        it); 0: no limit."""
        self.ensure_one()
        return int(self.max_storage_gb * 1024**3)

    def _limits(self):
        """The plan's limits as the tenant database and the API read them."""
        self.ensure_one()
        return {
            "companies": self.max_companies,
            "users": self.max_users,
            "users_per_company": self.max_users_per_company,
            "transactions_month": self.max_transactions_month,
            "storage_gb": self.max_storage_gb,
            "api_rate_limit": self.api_rate_limit,
            "mails_day": self.max_mails_day,
        }

    def _features(self):
        """The plan's feature flags, as the tenant database and the API read
        them: one definition, so the two cannot disagree."""
        self.ensure_one()
        return {
            "bi": self.feature_bi,
            "api": self.feature_api,
            "custom_domain": self.feature_custom_domain,
            "white_label": self.feature_white_label,
            "sub_tenants": self.feature_sub_tenants,
            "own_smtp": self.feature_own_smtp,
        }
