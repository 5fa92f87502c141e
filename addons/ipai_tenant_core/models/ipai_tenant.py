import contextvars
from datetime import date, timedelta

from odoo import api, fields, models
from odoo.addons.ipai_platform_rules import lifecycle, naming, roles
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import config

from ..infra import crypto, pg

TENANT_TYPES = [
    ("platform_owner", "Platform Owner"),
    ("provider", "Provider"),
    ("client", "Client"),
    ("internal", "Internal"),
]
# Only these types may have sub-tenants.
PARENT_TYPES = ("platform_owner", "provider")
# Fields whose before/after values go into the audit trail on every write.
AUDITED_FIELDS = (
    "code",
    "name",
    "tenant_type",
    "parent_id",
    "plan_id",
    "server_id",
    "state",
    "admin_email",
    "trial_end",
    "superset_workspace",
)
# Set by the provisioning engine only (see _check_engine_fields).
ENGINE_FIELDS = frozenset(
    {
        "state",
        "database_name",
        "db_role",
        "runtime_role",
        "analytics_schema",
        "superset_workspace",
        "usage_warning",
        "platform_lock",
        "user_count",
        "storage_mb",
        "last_sync",
        "kept_modules",
    }
)
# What the tenant runtime reads through the routing view: a change makes
# every runtime reload it.
ROUTED_FIELDS = {
    "code",
    "state",
    "database_name",
    "runtime_role",
    "plan_id",
    "server_id",
    "kept_modules",
}
KANBAN_COLORS = {
    lifecycle.DRAFT: 0,
    lifecycle.PROVISIONING: 4,
    lifecycle.ACTIVE: 10,
    lifecycle.SUSPENDED: 2,
    lifecycle.MAINTENANCE: 3,
    lifecycle.ARCHIVED: 8,
    lifecycle.FAILED: 1,
}
# Set by the clone wizard while it creates a clone, once it checked that the
# caller may operate the source: a clone lands next to its source, which
# takes the power to clone (manager), not to make sub-tenants (administrator).
# A context variable, not Odoo's context, so that no RPC call can set it.
CLONING = contextvars.ContextVar("ipai_cloning", default=False)
BASE_DOMAIN_PARAM = "ipai_tenant_core.base_domain"
PLATFORM_HOSTS_PARAM = "ipai_tenant_core.platform_hosts"
DEFAULT_PLATFORM_HOSTS = "localhost,127.0.0.1"
DATABASE_PREFIX_PARAM = "ipai_tenant_core.database_prefix"
ROLE_PREFIX_PARAM = "ipai_tenant_core.role_prefix"
PUBLIC_SCHEME_PARAM = "ipai_tenant_core.public_scheme"
PUBLIC_PORT_PARAM = "ipai_tenant_core.public_port"


class IpaiTenant(models.Model):
    _name = "ipai.tenant"
    _description = "Tenant"
    _inherit = [
        "mail.thread",
        "mail.activity.mixin",
        "ipai.text.input.mixin",
        "ipai.guarded.defaults.mixin",
    ]
    _parent_store = True
    _order = "parent_path, code"
    _rec_names_search = ["name", "code"]

    code = fields.Char(
        required=True,
        tracking=True,
        help="Lowercase letters, digits and '-', 2 to 30 characters, starting "
        "with a letter. Names the tenant's database, schema and host name.",
    )
    name = fields.Char(required=True, tracking=True)
    tenant_type = fields.Selection(
        TENANT_TYPES, string="Type", required=True, default="client", tracking=True
    )
    parent_id = fields.Many2one(
        "ipai.tenant",
        string="Provider",
        index=True,
        ondelete="restrict",
        tracking=True,
        domain=[("tenant_type", "in", PARENT_TYPES)],
    )
    parent_path = fields.Char(index=True)
    child_ids = fields.One2many("ipai.tenant", "parent_id", string="Sub-tenants")
    subtenant_count = fields.Integer(compute="_compute_subtenant_count")
    state = fields.Selection(
        lifecycle.STATES,
        default=lifecycle.DRAFT,
        required=True,
        readonly=True,
        tracking=True,
        copy=False,
    )
    kanban_color = fields.Integer(compute="_compute_kanban_color")
    database_name = fields.Char(compute="_compute_derived_names", store=True)
    db_role = fields.Char(
        string="BI role",
        compute="_compute_derived_names",
        store=True,
        help="Read-only role Superset reads the analytics schema with.",
    )
    runtime_role = fields.Char(
        compute="_compute_derived_names",
        store=True,
        help="The tenant's own PostgreSQL role: the tenant runtime serves its "
        "database with it, and it reaches no other database.",
    )
    analytics_schema = fields.Char(compute="_compute_derived_names", store=True)
    secret_ids = fields.One2many("ipai.tenant.secret", "tenant_id", groups="base.group_system")
    admin_password_available = fields.Boolean(compute="_compute_admin_password_available")
    url = fields.Char(string="URL", compute="_compute_primary_domain")
    primary_domain = fields.Char(compute="_compute_primary_domain")
    domain_ids = fields.One2many("ipai.tenant.domain", "tenant_id", string="Custom domains")
    superset_workspace = fields.Char(
        readonly=True, help="Superset workspace holding this tenant's dashboards."
    )
    industry = fields.Char()
    country_id = fields.Many2one("res.country")
    admin_email = fields.Char(
        string="Admin e-mail", help="Login of the tenant database's administrator."
    )
    admin_name = fields.Char(
        help="Name of the tenant database's administrator (the tenant's name when blank)."
    )
    plan_id = fields.Many2one(
        "ipai.tenant.plan",
        required=True,
        tracking=True,
        ondelete="restrict",
        default=lambda self: self.env.ref("ipai_tenant_core.plan_trial", raise_if_not_found=False),
    )
    server_id = fields.Many2one(
        "ipai.tenant.server",
        string="Database server",
        ondelete="restrict",
        default=lambda self: self.env["ipai.tenant.server"]._default_server(),
    )
    # The module gate (ipai_tenant_runtime/module_gate.py) loads a tenant's
    # plan modules and these, nothing else, whatever the database marks.
    kept_modules = fields.Char(
        readonly=True,
        copy=False,
        help="Modules of earlier plans (or removed from this plan) that stay "
        "installed and loaded in the tenant's database; comma-separated, set by "
        "the platform when a plan changes.",
    )
    trial_end = fields.Date(compute="_compute_trial_end", store=True, readonly=False)
    assignment_ids = fields.One2many("ipai.tenant.assignment", "tenant_id", string="Team")
    audit_count = fields.Integer(compute="_compute_audit_count")
    # Filled from the tenant database's usage (ipai_tenant_engine's metrics).
    usage_warning = fields.Char(readonly=True, help="Plan limits this tenant is close to.")
    user_count = fields.Integer(readonly=True)
    storage_mb = fields.Float(string="Storage (MB)", readonly=True)
    last_sync = fields.Datetime(readonly=True)
    platform_lock = fields.Boolean(
        readonly=True,
        copy=False,
        help="Suspended by the platform: only platform staff can reactivate it.",
    )

    # At most one tenant that is not archived per database and per role,
    # whatever wrote the row: two live tenants on one database would be two
    # routes, two owners and two billing records for it.
    _sql_constraints = [
        ("code_unique", "unique(code)", "This tenant code is not available; choose another."),
        (
            "database_name_live_unique",
            "EXCLUDE USING btree (database_name WITH =) WHERE (state <> 'archived')",
            "Another tenant already holds this database.",
        ),
        (
            "runtime_role_live_unique",
            "EXCLUDE USING btree (runtime_role WITH =) WHERE (state <> 'archived')",
            "Another tenant already holds this database role.",
        ),
        (
            "db_role_live_unique",
            "EXCLUDE USING btree (db_role WITH =) WHERE (state <> 'archived')",
            "Another tenant already holds this database role.",
        ),
    ]

    def init(self):
        # Moved whenever a host name appears, changes or goes: every Odoo
        # process's router reloads its host map when it sees a new value.
        self.env.cr.execute("CREATE SEQUENCE IF NOT EXISTS ipai_routing_version")

    def _bump_routing_version(self):
        # Once per transaction: a runtime reloads the whole map whatever
        # moved, and a signup changes routed fields three times in its request.
        postcommit = self.env.cr.postcommit
        if postcommit.data.get("ipai_routing_bumped"):
            return
        postcommit.data["ipai_routing_bumped"] = True
        self.env.cr.execute("SELECT nextval('ipai_routing_version')")
        # nextval is not transactional: a runtime may see the new version
        # before this transaction's rows, load the old map and keep it. The
        # version moves once more when they are visible.
        postcommit.add(self._bump_routing_version_after_commit)

    def _bump_routing_version_after_commit(self):
        with self.env.registry.cursor() as cr:
            cr.execute("SELECT nextval('ipai_routing_version')")

    # ------------------------------------------------------------------ compute

    @api.depends("code")
    def _compute_derived_names(self):
        for tenant in self:
            if tenant.database_name and tenant.state not in (False, lifecycle.DRAFT):
                # Names of a provisioned tenant never move; one provisioned
                # before tenants had their own role gets its name now.
                if not tenant.runtime_role:
                    tenant.runtime_role = tenant._derived_names()["runtime_role"] or False
                continue
            tenant.update(tenant._derived_names())

    def _reset_database_name(self):
        """Back to the names the code derives (a claimed pool member given
        back, or cleaned up with a failed job)."""
        for tenant in self:
            tenant.write(tenant._derived_names())

    def _documented_database_name(self):
        """<database prefix><code>: the name clients and docs use, which the
        tenant runtime answers to even where the database is stored under
        another (a warm-pool member keeps its own)."""
        self.ensure_one()
        return naming.database_name(self.code, self._name_prefixes()[0])

    @api.model
    def _name_prefixes(self):
        params = self.env["ir.config_parameter"].sudo()
        return (
            params.get_param(DATABASE_PREFIX_PARAM) or naming.DATABASE_PREFIX,
            params.get_param(ROLE_PREFIX_PARAM) or naming.ROLE_PREFIX,
        )

    @api.depends("code")
    def _compute_primary_domain(self):
        base_domain = self._base_domain()
        params = self.env["ir.config_parameter"].sudo()
        scheme = params.get_param(PUBLIC_SCHEME_PARAM) or "http"
        port = params.get_param(PUBLIC_PORT_PARAM) or ""
        if not port and base_domain == "localhost":
            # Development: tenants are reached through the local proxy
            # (make run), else the local tenant runtime.
            port = str(
                config.get("ipai_proxy_port")
                or config.get("ipai_tenant_http_port")
                or config["http_port"]
            )
        for tenant in self:
            tenant.primary_domain = f"{tenant.code}.{base_domain}" if tenant.code else False
            suffix = f":{port}" if port else ""
            tenant.url = f"{scheme}://{tenant.primary_domain}{suffix}" if tenant.code else False

    def _compute_admin_password_available(self):
        secrets = (
            self.env["ipai.tenant.secret"]
            .sudo()
            .search(
                [
                    ("tenant_id", "in", self.ids),
                    ("kind", "=", "admin_password"),
                    ("revealed", "=", False),
                ]
            )
        )
        for tenant in self:
            tenant.admin_password_available = tenant in secrets.tenant_id

    @api.depends("plan_id")
    def _compute_trial_end(self):
        for tenant in self:
            if not tenant.trial_end and tenant.plan_id.trial_days:
                tenant.trial_end = fields.Date.context_today(tenant) + timedelta(
                    days=tenant.plan_id.trial_days
                )

    @api.depends("state")
    def _compute_kanban_color(self):
        for tenant in self:
            tenant.kanban_color = KANBAN_COLORS.get(tenant.state, 0)

    def _compute_subtenant_count(self):
        counts = self._count_by_tenant("ipai.tenant", "parent_id")
        for tenant in self:
            tenant.subtenant_count = counts.get(tenant.id, 0)

    def _compute_audit_count(self):
        counts = self._count_by_tenant("ipai.audit.log", "tenant_id")
        for tenant in self:
            tenant.audit_count = counts.get(tenant.id, 0)

    def _count_by_tenant(self, model, field):
        groups = self.env[model]._read_group(
            [(field, "in", self.ids)], groupby=[field], aggregates=["__count"]
        )
        return {tenant.id: count for tenant, count in groups}

    @api.model
    def _platform_hosts(self):
        value = self.env["ir.config_parameter"].sudo().get_param(PLATFORM_HOSTS_PARAM)
        return (value or DEFAULT_PLATFORM_HOSTS).split(",")

    @api.model
    def _base_domain(self):
        return self.env["ir.config_parameter"].sudo().get_param(BASE_DOMAIN_PARAM) or "localhost"

    # -------------------------------------------------------------- constraints

    @api.constrains("code")
    def _check_code(self):
        database_prefix = self._name_prefixes()[0]
        for tenant in self:
            problem = naming.code_problem(tenant.code, self.env.cr.dbname, database_prefix)
            if problem:
                raise ValidationError(problem)

    @api.constrains("admin_email")
    def _check_admin_email(self):
        for tenant in self:
            if tenant.admin_email and not naming.is_valid_email(tenant.admin_email):
                raise ValidationError(
                    self.env._("'%s' is not a valid e-mail address.", tenant.admin_email)
                )

    @api.constrains("parent_id", "tenant_type")
    def _check_hierarchy(self):
        if self._has_cycle():
            raise ValidationError(
                self.env._("A tenant cannot be its own provider, even indirectly.")
            )
        for tenant in self:
            parent = tenant.parent_id
            if parent and parent.tenant_type not in PARENT_TYPES:
                raise ValidationError(
                    self.env._(
                        "%(parent)s is a %(type)s tenant and cannot have sub-tenants; "
                        "only platform owners and providers can.",
                        parent=parent.display_name,
                        type=dict(TENANT_TYPES)[parent.tenant_type],
                    )
                )
            if tenant.tenant_type not in PARENT_TYPES and tenant.child_ids:
                raise ValidationError(
                    self.env._(
                        "%s has sub-tenants, so it must stay a provider or platform owner.",
                        tenant.display_name,
                    )
                )
            if tenant.tenant_type == "platform_owner" and parent:
                raise ValidationError(self.env._("The platform owner cannot have a provider."))

    # --------------------------------------------------------------------- CRUD

    def _guarded_fields(self):
        guarded = super()._guarded_fields() | ENGINE_FIELDS
        if not self._is_platform_manager():
            guarded |= {"tenant_type", "server_id"}
        return guarded

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("state", lifecycle.DRAFT) != lifecycle.DRAFT:
                raise UserError(self.env._("A new tenant always starts in draft."))
            # A blank engine field in a new record (a form sends them) sets nothing.
            self._check_engine_fields({key: value for key, value in vals.items() if value})
            self._check_server_choice(vals)
            if "parent_id" in vals:  # refused before anything else is looked at
                self._check_parent_in_reach(vals["parent_id"])
        tenants = super(IpaiTenant, self._without_guarded_defaults()).create(vals_list)
        tenants._check_created_as_drafts()
        self._bump_routing_version()
        for tenant in tenants:
            tenant._audit("create", {f: (False, tenant._audit_value(f)) for f in AUDITED_FIELDS})
        return tenants

    def write(self, vals):
        self._check_engine_fields(vals)
        if not self.env.su and set(vals) - ENGINE_FIELDS:
            # Editing a tenant is a manager's power; the record rules only
            # know who reaches it.
            self._check_power(roles.OPERATE)
        self._check_server_choice(vals)
        if "tenant_type" in vals:
            self._check_type_change(vals["tenant_type"])
        if "state" in vals:
            for tenant in self:
                problem = lifecycle.transition_problem(tenant.state, vals["state"])
                if problem:
                    raise UserError(problem)
        if "code" in vals:
            started = self.filtered(lambda t: t.state != lifecycle.DRAFT and t.code != vals["code"])
            if started:
                raise UserError(
                    self.env._(
                        "The code of a provisioned tenant cannot change: it names its database."
                    )
                )
        if "parent_id" in vals:
            self._check_parent_in_reach(vals["parent_id"])
            self._check_no_cycle(vals["parent_id"])
        audited = [f for f in AUDITED_FIELDS if f in vals]
        before = {t.id: {f: t._audit_value(f) for f in audited} for t in self}
        # A provisioned database keeps what its old plan installed.
        leaving = {
            tenant: tenant.plan_id._module_names()
            for tenant in self.sudo()
            if "plan_id" in vals and tenant.state != lifecycle.DRAFT
        }
        result = super().write(vals)
        for tenant, names in leaving.items():
            tenant._keep_modules(names)
        if ROUTED_FIELDS & set(vals):
            self._bump_routing_version()
        for tenant in self:
            changes = {
                f: (before[tenant.id][f], tenant._audit_value(f))
                for f in audited
                if before[tenant.id][f] != tenant._audit_value(f)
            }
            if changes:
                tenant._audit("write", changes)
        return result

    @api.ondelete(at_uninstall=False)
    def _unlink_only_drafts(self):
        if any(t.state != lifecycle.DRAFT for t in self):
            raise UserError(
                self.env._(
                    "Only draft tenants can be deleted; archive the others so their history stays."
                )
            )

    def unlink(self):
        for tenant in self:
            tenant._audit("unlink", {"code": (tenant.code, False)})
        return super().unlink()

    def _check_created_as_drafts(self):
        """What a new tenant holds once stored, whatever the request carried
        (values, context defaults, an onchange): a draft with the names its
        code derives, no engine state, a provider the caller administers and
        a type the caller may give."""
        if self.env.su:
            return
        platform_manager = self._is_platform_manager()
        default_server = self.env["ipai.tenant.server"].sudo()._default_server()
        for tenant in self.sudo():
            if tenant.state != lifecycle.DRAFT:
                raise UserError(self.env._("A new tenant always starts in draft."))
            derived = tenant._derived_names()
            smuggled = [name for name, value in derived.items() if tenant[name] != value]
            smuggled += [name for name in ENGINE_FIELDS - {"state", *derived} if tenant[name]]
            if smuggled:
                self._check_engine_fields(dict.fromkeys(smuggled, True))
            self._check_parent_in_reach(tenant.parent_id.id)
            if platform_manager:
                continue
            if tenant.tenant_type == "platform_owner":
                raise AccessError(self.env._("Only platform managers make a platform owner."))
            if tenant.server_id and tenant.server_id != default_server:
                raise AccessError(self.env._("Only platform managers choose a tenant's server."))

    def _check_type_change(self, tenant_type):
        """The type says what a tenant may do (a provider resells): platform
        managers set it; an administrator only upgrades a client to provider
        (docs/roles.md), never by writing the field as a manager."""
        changing = self.filtered(lambda t: t.tenant_type != tenant_type)
        if not changing or self._is_platform_manager():
            return
        if tenant_type != "provider" or any(t.tenant_type != "client" for t in changing):
            raise AccessError(
                self.env._(
                    "Only platform managers change a tenant's type; an administrator can "
                    "upgrade a client to provider."
                )
            )
        changing._check_power(roles.ADMINISTER)

    def _derived_names(self):
        """The database, roles and schema a draft tenant's code gives."""
        self.ensure_one()
        database_prefix, role_prefix = self._name_prefixes()
        valid = self.code and not naming.code_problem(self.code, database_prefix=database_prefix)
        return {
            "database_name": naming.database_name(self.code, database_prefix) if valid else False,
            "db_role": naming.role_name(self.code, role_prefix) if valid else False,
            "runtime_role": naming.runtime_role_name(self.code, role_prefix) if valid else False,
            "analytics_schema": naming.schema_name(self.code) if valid else False,
        }

    def _check_engine_fields(self, vals):
        """Fields the provisioning engine owns are set by the engine alone
        (it runs with superuser rights, which no RPC call can obtain): the
        database, its roles and schema, the state, the workspace, usage.
        Every ORM path (form, RPC, import) ends in create or write."""
        if self.env.su:
            return
        touched = sorted(ENGINE_FIELDS & {key for key, value in vals.items() if value is not None})
        if touched:
            raise AccessError(
                self.env._(
                    "%s can only be set by the provisioning engine; use the tenant's actions.",
                    ", ".join(self._fields[name].string for name in touched),
                )
            )

    def _check_server_choice(self, vals):
        """The database server is a platform resource: platform managers pick
        it, for a tenant that has no database yet."""
        if "server_id" not in vals or self.env.su:
            return
        if not self.env.user.has_group("ipai_tenant_core.group_platform_manager"):
            default = self.env["ipai.tenant.server"].sudo()._default_server()
            if not self and vals["server_id"] in (False, default.id):
                return  # the form sends the default along with a new tenant
            raise AccessError(self.env._("Only platform managers choose a tenant's server."))
        if any(tenant.state != lifecycle.DRAFT for tenant in self):
            raise UserError(self.env._("The server of a provisioned tenant cannot change."))

    def _check_parent_in_reach(self, parent_id):
        """Sub-tenants are made by administrators (and owners) of a provider
        tenant, inside its subtree."""
        if self.env.su or self.env.user.has_group("ipai_tenant_core.group_platform_manager"):
            return
        cloning = CLONING.get()
        user = self.env.user
        reach = user.ipai_managed_tenant_ids if cloning else user.ipai_administered_tenant_ids
        parent = self.browse(parent_id).sudo() if parent_id else self.browse()
        managed = (parent | parent._ancestors()) & reach if parent else self.browse()
        if not managed:
            raise AccessError(
                self.env._(
                    "You can only place tenants under a provider tenant you manage "
                    "(role manager or stronger) by cloning, or administer (role "
                    "administrator or owner) otherwise."
                )
            )
        # A provider makes sub-tenants only when its plan includes them.
        provider = managed.sudo()[0]
        if not provider.plan_id.feature_sub_tenants:
            raise AccessError(
                self.env._(
                    "The plan %(plan)s of %(provider)s does not include sub-tenants.",
                    plan=provider.plan_id.name,
                    provider=provider.code,
                )
            )

    def _check_no_cycle(self, parent_id):
        # Checked before the write: Odoo's parent store would otherwise stop
        # with a bare "Recursion Detected." while updating parent_path.
        if parent_id and parent_id in self.sudo().search([("id", "child_of", self.ids)]).ids:
            raise ValidationError(
                self.env._("A tenant cannot be its own provider, even indirectly.")
            )

    def _ancestors(self):
        ids = [int(i) for i in self.parent_path.split("/") if i] if self.parent_path else []
        return self.browse(ids)

    # -------------------------------------------------------------------- audit

    def _audit_value(self, field_name):
        value = self[field_name]
        if isinstance(value, models.BaseModel):
            return value.display_name or False
        if isinstance(value, date):
            return value.isoformat()
        return value

    def _audit(self, action, changes=None):
        self.ensure_one()
        self.env["ipai.audit.log"]._record(self, action, changes or {})

    # ------------------------------------------------------------------- roles

    def _is_platform_manager(self):
        return self.env.su or self.env.user.has_group("ipai_tenant_core.group_platform_manager")

    def _role(self):
        """The current user's strongest role on this tenant or one of its
        ancestors (a role holds on the whole subtree), or False."""
        self.ensure_one()
        tenant = self.sudo()
        lineage = tenant | tenant._ancestors()
        assignments = (
            self.env["ipai.tenant.assignment"]
            .sudo()
            .search([("user_id", "=", self.env.uid), ("tenant_id", "in", lineage.ids)])
        )
        ranked = sorted(assignments.mapped("role"), key=roles.ROLE_RANK.get)
        return ranked[-1] if ranked else False

    def _check_power(self, power):
        """Refuse unless the current user's role on each tenant grants
        ``power`` (docs/roles.md). Platform managers hold every power,
        platform users read and observe; a tenant outside the caller's reach
        is refused by the record rules before its role is looked at."""
        if self._is_platform_manager():
            return
        staff = self.env.user.has_group("ipai_tenant_core.group_platform_user")
        for tenant in self:
            tenant.check_access("read")
            if staff and power in (roles.READ, roles.OBSERVE):
                continue
            role = False if staff else tenant._role()
            if not roles.role_has(role, power):
                needed = dict(roles.ROLES)[roles.POWER_ROLE[power]]
                raise AccessError(
                    self.env._(
                        "%(tenant)s: this needs the role %(needed)s or a stronger one "
                        "on the tenant; yours is %(role)s.",
                        tenant=tenant.code,
                        needed=needed,
                        role=dict(roles.ROLES).get(role, self.env._("none")),
                    )
                )

    # ------------------------------------------------------------------ actions

    def _ensure_action_allowed(self, action, label):
        for tenant in self:
            problem = lifecycle.action_problem(action, tenant.state, label)
            if problem:
                raise UserError(
                    self.env._("%(tenant)s: %(problem)s", tenant=tenant.code, problem=problem)
                )

    def _is_platform_staff(self):
        return self.env.su or self.env.user.has_group("ipai_tenant_core.group_platform_user")

    def action_reveal_admin_password(self):
        """Show the tenant administrator's generated password, once."""
        self.ensure_one()
        self.check_access("write")
        self._check_power(roles.ADMINISTER)
        password = self._reveal_secret_once("admin_password")
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Administrator of %s", self.code),
                "message": self.env._(
                    "Login: %(login)s\nPassword: %(password)s\nThis is the only time it is shown.",
                    login=self.admin_email or "admin",
                    password=password,
                ),
                "sticky": True,
                "type": "warning",
            },
        }

    def action_upgrade_to_provider(self):
        self._check_power(roles.ADMINISTER)
        for tenant in self:
            if tenant.tenant_type != "client":
                raise UserError(self.env._("Only client tenants can be upgraded to provider."))
        self._ensure_action_allowed("upgrade_to_provider", self.env._("Upgrading to provider"))
        self.write({"tenant_type": "provider"})
        return True

    # What changes a tenant's plan or makes a tenant from it: one method each,
    # called alike by the forms' wizards, the REST API and the CLI.

    def action_view_subtenants(self):
        return self._open_related(
            "ipai.tenant", [("parent_id", "=", self.id)], self.env._("Sub-tenants")
        )

    def action_view_audit(self):
        return self._open_related(
            "ipai.audit.log", [("tenant_id", "=", self.id)], self.env._("Audit trail")
        )

    # -------------------------------------------------- provisioning engine

    def _keep_modules(self, names):
        """Record ``names`` as modules that stay loaded in these tenants'
        databases (the plan that installed them is gone)."""
        for tenant in self.sudo():
            kept = tenant._kept_module_names()
            if not set(names) <= kept:
                tenant.kept_modules = ",".join(sorted(kept | set(names)))

    def _kept_module_names(self):
        self.ensure_one()
        return set(filter(None, (self.sudo().kept_modules or "").split(",")))

    def _allowed_module_names(self):
        """What the module gate lets this tenant's database load: its plan's
        set and what earlier plans left installed (their manifests bring the
        rest)."""
        self.ensure_one()
        return sorted(set(self.plan_id._module_names()) | self._kept_module_names())

    @api.model
    def _new_code_problem(self, code):
        """Why a new tenant cannot take ``code`` (None if it can), checked
        before anything is created: syntax, duplicates and a database of that
        name that is not a tenant's."""
        database_prefix = self._name_prefixes()[0]
        problem = naming.code_problem(code, self.env.cr.dbname, database_prefix)
        if problem:
            return problem
        # The same answer whoever holds the code, so nothing is told about
        # tenants outside the caller's reach.
        taken = self.env._("The tenant code '%s' is not available; choose another.", code)
        if self.sudo().search_count([("code", "=", code)]):
            return taken
        dbname = naming.database_name(code, database_prefix)
        server = self.env["ipai.tenant.server"].sudo()._default_server()
        if server and pg.database_exists(server._pg_server(), dbname):
            return taken
        return None

    def _public_url(self):
        self.ensure_one()
        return self.url

    def _admin_display_name(self):
        self.ensure_one()
        return self.admin_name or self.name

    def _set_state_from_engine(self, state):
        """The one way the state moves: called by the engine, or by an
        action once it checked the caller may act on the tenant."""
        self.ensure_one()
        if self.state != state:
            self.sudo().state = state

    def _store_secret(self, kind, plaintext, one_time=False):
        self.ensure_one()
        self.env["ipai.tenant.secret"].sudo()._put(self, kind, crypto.encrypt(plaintext), one_time)

    def _reveal_secret_once(self, kind):
        secret = self.env["ipai.tenant.secret"].sudo()._take(self, kind)
        if not secret:
            raise UserError(
                self.env._("This password was already shown, or the tenant has none yet.")
            )
        self._audit("secret:revealed", {"kind": (False, kind)})
        return crypto.decrypt(secret)

    def _secret(self, kind):
        """Decrypted credential for the platform's own use (never shown)."""
        token = self.env["ipai.tenant.secret"].sudo()._get(self, kind)
        return crypto.decrypt(token) if token else None

    def _forget_secrets(self):
        self.env["ipai.tenant.secret"].sudo().search([("tenant_id", "in", self.ids)]).unlink()

    def _open_related(self, model, domain, name):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": name,
            "res_model": model,
            "view_mode": "list,form",
            "domain": domain,
            "context": {"default_parent_id": self.id} if model == self._name else {},
        }
