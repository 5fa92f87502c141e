"""The steps of each job type, in order.

Every step is idempotent: the runner may call it again after a crash at any
point, so each one checks what already exists before acting. A step gets a
``StepContext``: the job's frozen spec (spec.py) and the database server. It
reads the spec, never a record, and records what it did in ``ctx.outcome``
(log lines, and the effects the runner applies through the models' hooks
before it commits the step).
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from odoo.addons.ipai_platform_rules import cells, lifecycle, naming
from odoo.addons.ipai_platform_rules.tenant_side import WELCOME_LINK_HOURS
from odoo.addons.ipai_tenant_core.infra import crypto, pg
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError

from . import (
    filestore,
    pool,
    runtime_access,
    superset_workspace,
    templates,
    tenant_db,
)
from .kinds import JobKind, always
from .spec import JobSpec, Outcome, TemplateCatalog


@dataclass
class StepContext:
    spec: JobSpec
    server: pg.Server
    catalog: TemplateCatalog | None = None
    outcome: Outcome = field(default_factory=Outcome)

    def log(self, message):
        self.outcome.log(message)

    def skip(self, reason):
        """The step has nothing to do here: it ends done, shown as skipped
        with ``reason`` (the command line prints it instead of "done")."""
        self.outcome.skip(reason)

    def record(self, hook, *args):
        self.outcome.record(hook, *args)

    @property
    def lines(self):
        return self.outcome.lines

    @property
    def tenant(self):
        return self.spec.tenant

    @property
    def params(self):
        return self.spec.params

    @property
    def database(self):
        return self.spec.tenant.database

    @property
    def mark(self):
        return self.spec.tenant.mark

    @property
    def as_tenant(self):
        """The tenant's database server as the tenant's own role: anything
        that runs inside the tenant database runs with its rights only."""
        return runtime_access.as_role(
            self.server, self.spec.tenant.runtime_role, self.spec.tenant.cell
        )


# ---------------------------------------------------------------- checks


def verify_targets(ctx):
    """Run before every step: the names the step will touch are the ones
    derived from the tenant's code (a row edited behind the engine's back,
    or a job typed in by hand, touches nothing), and a database of that name
    that exists carries this tenant's mark or none yet (which a tenant
    cannot forge: only the database's owner, the platform, may comment)."""
    wrong = names_problem(ctx.tenant)
    if wrong:
        raise PermanentError(
            f"The {', '.join(wrong)} of tenant {ctx.tenant.code} is not the one its code names; "
            "nothing was changed."
        )
    mark = pg.database_mark(ctx.server, ctx.database)
    if mark not in _acceptable_marks(ctx):
        raise PermanentError(
            f"{ctx.database} is not marked as this tenant's database; nothing was changed."
        )


def names_problem(tenant):
    """Which of ``tenant``'s (a TenantSpec) stored names differ from those
    its code (or the warm-pool database its signup took) gives: a list of
    labels, empty when all agree."""
    database_prefix, role_prefix = tenant.database_prefix, tenant.role_prefix
    expected = {
        "database": naming.database_name(tenant.code, database_prefix),
        "BI role": naming.role_name(tenant.code, role_prefix),
        "tenant role": naming.runtime_role_name(tenant.code, role_prefix),
        "analytics schema": naming.schema_name(tenant.code),
    }
    actual = {
        "database": tenant.database,
        "BI role": tenant.db_role,
        "tenant role": tenant.runtime_role,
        "analytics schema": tenant.analytics_schema,
    }
    token = naming.pool_token(actual["database"], database_prefix)
    if token:
        # A signup keeps the names of the warm-pool database it took and of
        # its role (a runtime may hold its registry, connected as that role):
        # never any tenant's derived names, and always a matching pair.
        expected["database"] = actual["database"]
        expected["tenant role"] = naming.pool_role_name(token, role_prefix)
        expected["BI role"] = naming.pool_bi_role_name(token, role_prefix)
    return [what for what in expected if actual[what] != expected[what]]


def verify_source(ctx, source):
    """A copy's source is checked as a target is: its names are the ones its
    code gives and its database carries its own mark. A source row that
    names another tenant's database (however it was stored) copies nothing."""
    wrong = names_problem(source)
    if wrong:
        raise PermanentError(
            f"The {', '.join(wrong)} of source tenant {source.code} is not the one its code "
            "names; nothing was copied."
        )
    if pg.database_mark(ctx.server, source.database) != pg.owner_mark(source.mark):
        raise PermanentError(
            f"{source.database} is not marked as {source.code}'s database; nothing was copied."
        )


def _acceptable_marks(ctx):
    """This tenant's mark or none yet; a warm-pool member's mark only on the
    member this tenant's job claimed."""
    marks = {None, "", pg.owner_mark(ctx.mark), *ctx.spec.kind.extra_marks(ctx)}
    member = ctx.spec.pool_member
    if member and member.mine and member.database == ctx.database:
        marks.add(pg.owner_mark(pool.mark(ctx.database)))
    return marks


def _clones_data(ctx):
    return ctx.spec.job_type == "clone" and bool(ctx.params.get("with_data"))


def check_request(ctx):
    """Refuse a database name that belongs to something that is not this tenant."""
    crypto.ensure_key()
    mark = pg.database_mark(ctx.server, ctx.database)
    if mark is None:
        ctx.log(f"database name {ctx.database} is free")
    elif mark == pg.owner_mark(ctx.mark):
        ctx.log(f"database {ctx.database} already belongs to this tenant; resuming")
    elif mark in _acceptable_marks(ctx):
        ctx.log(f"{ctx.database} is the warm-pool database claimed for this tenant")
    else:
        raise PermanentError(
            f"A database named {ctx.database} already exists and is not this tenant's; "
            "nothing was changed."
        )
    if ctx.spec.job_type == "clone":
        source = _clone_source(ctx)
        if source.state not in (lifecycle.ACTIVE, lifecycle.SUSPENDED):
            raise PermanentError(f"The source tenant {source.code} has no database to copy.")
        if ctx.params.get("with_data"):
            # The copy holds what the source has installed.
            ctx.record(
                "keep_modules", sorted(set(source.allowed_modules) - set(ctx.tenant.modules))
            )


def _clone_source(ctx):
    """The source of a clone, as the job's requester may see it (the spec
    was given it so): a source outside the requester's reach does not exist
    for the engine either. Checked as a target is."""
    source = ctx.spec.source_tenant()
    verify_source(ctx, source)
    return source


# -------------------------------------------------------------- database


def ensure_template(ctx):
    template, ready_size = ensure_template_for(
        ctx.catalog, ctx.tenant.modules, _template_owner(ctx), ctx.server, ctx.log
    )
    if ready_size is not None:
        ctx.record("template_ready", template.id, ready_size)
    ctx.record("use_template", template.id)


def ensure_template_for(catalog, modules, owner, server, log):
    """The template of ``modules`` on ``server``, built here when missing
    (its key moves with the addons' code, so changed code gets a new one);
    WaitingError while another job builds it. Returns the TemplateSpec and,
    when it became ready here, its size in bytes for the record (else None)."""
    template = catalog.for_modules(modules)
    name = template.database
    if template.state == "ready" and pg.database_mark(server, name) == (
        pg.owner_mark(templates.ready_mark(name))
    ):
        log(f"using template {name}")
        return template, None
    # Whoever holds the template's row builds it; the others wait in the
    # queue (WaitingError) and find it ready when they come back. Only the
    # holder may judge a half-built template as abandoned.
    catalog.lock_for_build(template.id)
    mark = pg.database_mark(server, name)
    if mark == pg.owner_mark(templates.building_mark(name)):
        log(f"removing {name}, left unfinished by an interrupted build")
        pg.drop_database(server, name)
        filestore.remove(name)
        mark = None
    if mark == pg.owner_mark(templates.ready_mark(name)):
        # Complete (built, or adopted from another platform on this server):
        # the mark is only set once the build succeeded.
        log(f"using template {name}")
        size = pg.database_size(server, name) if template.state != "ready" else None
        return template, size
    if mark is not None:
        raise PermanentError(f"A database named {name} exists but is not a finished template.")
    templates.build(server, name, list(template.modules), owner, log)
    return template, pg.database_size(server, name)


def _template_owner(ctx):
    return naming.template_owner_role(ctx.tenant.role_prefix)


def _copied_objects_owner(ctx):
    """Who owns the objects of the database this tenant is copied from."""
    if _clones_data(ctx):
        return _clone_source(ctx).runtime_role
    return _template_owner(ctx)


def create_database(ctx):
    _start_admin_password(ctx.spec.id)
    mark = pg.database_mark(ctx.server, ctx.database)
    if mark not in (None, "", pg.owner_mark(ctx.mark)):
        raise PermanentError(f"{ctx.database} now belongs to something else; nothing was changed.")
    if mark is not None:
        # Ours, or unmarked because a run died between CREATE and COMMENT:
        # check_request proved the name free when this job started.
        ctx.log(f"database {ctx.database} already exists")
    else:
        source = _copy_source_database(ctx)
        pg.create_database_from(ctx.server, ctx.database, source)
        ctx.log(f"created {ctx.database} from {source}")
    pg.mark_database(ctx.server, ctx.database, ctx.mark)


def _copy_source_database(ctx):
    if _clones_data(ctx):
        return _clone_source(ctx).database
    if not ctx.spec.template:
        raise PermanentError("No template was prepared for this job.")
    return ctx.spec.template.database


def copy_filestore(ctx):
    source = _copy_source_database(ctx)
    if filestore.copy(source, ctx.database):
        ctx.log(f"copied the filestore of {source}")
    else:
        ctx.log("filestore already in place (or none to copy)")


def create_roles(ctx):
    """The tenant's own role, owner of everything in its database and able
    to connect to it alone; and its read-only BI role."""
    role = ctx.tenant.runtime_role
    runtime_access.ensure_owned_role(ctx.server, role, ctx.tenant.cell)
    pg.hand_over(ctx.server, ctx.database, _copied_objects_owner(ctx), role)
    ctx.log(f"role {role} owns {ctx.database} and may connect to it only")
    create_bi_role(ctx)


def create_bi_role(ctx):
    """The tenant's read-only BI role (a restored tenant's own role made
    the database; a new one's came with create_roles)."""
    bi_role = ctx.tenant.db_role
    password = crypto.new_password()
    pg.ensure_login_role(ctx.server, bi_role, password)
    pg.restrict_connect(ctx.server, ctx.database, bi_role)
    ctx.record("store_secret", "db_role_password", password, False)
    ctx.log(f"read-only BI role {bi_role} may connect to {ctx.database} only")


# ---------------------------------------------------------- warm pool


def _rekey_for_cell(ctx, role):
    """The warm pool is the default cell's (its members' roles have that
    cell's passwords, its nodes preload them). A member adopted by a tenant
    of another cell gets that cell's password, and the default cell's open
    connections of it end: from now on only the tenant's cell logs in."""
    if ctx.tenant.cell == cells.DEFAULT_CELL:
        return
    runtime_access.ensure_owned_role(ctx.server, role, ctx.tenant.cell)
    ended = runtime_access.forget_role_sessions(ctx.server, role)
    ctx.log(f"role {role} re-keyed for cell {ctx.tenant.cell} ({ended} pool connections ended)")


def adopt_pool_member(ctx):
    """The claimed pool member becomes the tenant's database, keeping its
    names (a tenant runtime may have its registry loaded, connected as its
    role): checked, marked as the tenant's, its BI role's password and the
    admin's handed to the tenant, its analytics schema made. It was built
    from the same template with its own roles, identity, filestore and
    admin password. One step: each step costs two commits."""
    check_request(ctx)
    member = ctx.spec.pool_member
    if member:
        if not member.mine or member.state != pool.CLAIMED:
            raise PermanentError(
                f"Pool member {member.database} is not claimed by {ctx.tenant.code}."
            )
        for line in pool.adopt(ctx.server, ctx.database, ctx.mark):
            ctx.log(line)
        _rekey_for_cell(ctx, member.role)
        if not (member.admin_token and member.bi_token):
            raise PermanentError(f"Pool member {member.database} has no passwords.")
        admin_password, bi_password = (
            crypto.decrypt(member.admin_token),
            crypto.decrypt(member.bi_token),
        )
        ctx.record("store_secret", "admin_password", admin_password, True)
        ctx.record("store_secret", "db_role_password", bi_password, False)
        ctx.log(f"took pool member {member.database}")
        # Removed with this step's commit: nothing left to undo by its names.
        ctx.record("forget_pool_member", member.id)
    elif pg.database_mark(ctx.server, ctx.database) != pg.owner_mark(ctx.mark):
        raise PermanentError("The pool member claimed for this job is gone; nothing was changed.")
    create_schema(ctx)


def personalize(ctx, reset_link=False):
    """What the pool could not know, in one transaction as the tenant's
    role: the tenant's URL, plan and settings, its company, its
    administrator's login and name (the password came with the member);
    with ``reset_link``, the administrator's set-password link, returned."""
    login = ctx.tenant.admin_login
    reset_url = tenant_db.personalize(
        ctx.as_tenant,
        ctx.database,
        base_url=ctx.tenant.url,
        config=ctx.tenant.tenant_side_config,
        login=login,
        name=ctx.tenant.admin_name,
        company=_company_values(ctx),
        reset_valid_hours=WELCOME_LINK_HOURS if reset_link and ctx.tenant.admin_email else None,
    )
    ctx.log(f"web.base.url = {ctx.tenant.url}; plan {ctx.tenant.plan_code}")
    ctx.log(f"administrator login: {login} (one-time password stored encrypted)")
    return reset_url


def _copies_data(ctx):
    """A clone with data, or a new tenant restored from another's backup."""
    return ctx.spec.kind.copies_data(ctx.params)


def neutralize(ctx):
    if not _copies_data(ctx):
        ctx.skip("a fresh database from a template has nothing to neutralize")
        return
    tenant_db.neutralize(ctx.as_tenant, ctx.database)
    ctx.log("neutralized the copied data (mail servers, crons, providers)")


def reset_identity(ctx):
    tenant_db.reset_identity(ctx.as_tenant, ctx.database, ctx.tenant.url)
    ctx.log(f"new database uuid and secret; web.base.url = {ctx.tenant.url}")


def configure_tenant(ctx):
    tenant_db.push_tenant_config(ctx.as_tenant, ctx.database, ctx.tenant.tenant_side_config)
    ctx.log(f"pushed plan {ctx.tenant.plan_code} and settings")


# The administrator's password is hashed in a thread (hashlib releases the
# GIL) while PostgreSQL copies the template and hands its objects over:
# half a second of pbkdf2 off the provisioning's critical path. Kept per job
# in this process only; a job resumed elsewhere hashes a new password.
_ADMIN_PASSWORDS = {}
_HASHER = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ipai-admin-hash")


def _start_admin_password(job_id):
    if job_id not in _ADMIN_PASSWORDS:
        password = crypto.new_password()
        _ADMIN_PASSWORDS[job_id] = (password, _HASHER.submit(tenant_db.hash_password, password))


def _take_admin_password(job_id):
    password, hashed = _ADMIN_PASSWORDS.pop(job_id, (None, None))
    if password is None:
        password = crypto.new_password()
        return password, tenant_db.hash_password(password)
    return password, hashed.result()


def set_admin(ctx):
    login = ctx.tenant.admin_login
    password, hashed = _take_admin_password(ctx.spec.id)
    tenant_db.set_admin(
        ctx.as_tenant,
        ctx.database,
        login,
        hashed,
        name=ctx.tenant.admin_name,
        company=_company_values(ctx),
    )
    ctx.record("store_secret", "admin_password", password, True)
    ctx.log(f"administrator login: {login} (one-time password stored encrypted)")


def _company_values(ctx):
    """The tenant's main company: its name, e-mail and country. A copy of
    another tenant's data, or of a customer's own database, keeps the
    company it copied (real books must not be renamed)."""
    if _copies_data(ctx):
        return None
    return ctx.tenant.company.as_dict()


def create_schema(ctx):
    pg.ensure_schema(ctx.server, ctx.database, ctx.tenant.analytics_schema, ctx.tenant.db_role)
    ctx.log(f"analytics schema {ctx.tenant.analytics_schema} ready")


def personalize_and_activate(ctx):
    # The set-password link is made in personalize's transaction: one
    # connection to the tenant database fewer on the signup's path.
    activate_new_tenant(ctx, personalize(ctx, reset_link=True))


def activate_new_tenant(ctx, reset_url=None):
    """The tenant becomes active and, in the same transaction, its
    administrator's link to set a password (made in the tenant database, as
    the tenant's role) is left encrypted for the cron that mails it: the
    mail is made off the signup's path, never lost, never made twice."""
    final_state(lifecycle.ACTIVE)(ctx)
    if not ctx.tenant.admin_email:
        ctx.log("no administrator e-mail: no welcome mail")
        return
    reset_url = reset_url or tenant_db.password_reset_url(
        ctx.as_tenant, ctx.database, ctx.tenant.url, WELCOME_LINK_HOURS
    )
    ctx.record("queue_welcome_mail", reset_url)
    ctx.log(f"welcome mail to {ctx.tenant.admin_email} left to the welcome mail cron")


# -------------------------------------------------------------- life cycle


def push_state(state):
    def step(ctx):
        tenant_db.push_tenant_config(ctx.as_tenant, ctx.database, {"state": state})
        ctx.log(f"tenant database told it is {state}")

    step.__name__ = f"push_state_{state}"
    return step


def _drop_own_database(ctx, refusal, done):
    """Drop the tenant's database if it carries the tenant's mark; an
    unmarked or foreign one is refused (``refusal``, None: left alone)."""
    mark = pg.database_mark(ctx.server, ctx.database)
    if mark is None:
        return False
    if mark != pg.owner_mark(ctx.mark):
        if refusal:
            raise PermanentError(refusal)
        return False
    pg.drop_database(ctx.server, ctx.database)
    ctx.log(done)
    return True


def drop_database(ctx):
    if not _drop_own_database(
        ctx,
        f"Refusing to drop {ctx.database}: it is not marked as this tenant's database.",
        f"dropped database {ctx.database}",
    ):
        ctx.log(f"database {ctx.database} already gone")


def _drop_roles(ctx, verb, only_existing=False):
    for role in (ctx.tenant.db_role, ctx.tenant.runtime_role):
        if role and (not only_existing or pg.role_exists(ctx.server, role)):
            pg.drop_role(ctx.server, role)
            ctx.log(f"{verb} role {role}")
    ctx.record("forget_secrets")


def drop_role(ctx):
    _drop_roles(ctx, "dropped")


def remove_filestore(ctx):
    filestore.remove(ctx.database)
    ctx.log("removed the filestore")


def install_plan_modules(ctx):
    """What the (new) plan adds, installed as the tenant's own role; modules
    a downgrade leaves behind stay installed, but the runtime's module gate
    follows the plan for what may be installed next."""
    wanted = list(ctx.tenant.modules)
    rows = ctx.as_tenant.execute(
        "SELECT name FROM ir_module_module WHERE state = 'installed' AND name = ANY(%s)",
        [wanted],
        dbname=ctx.database,
    )
    missing = sorted(set(wanted) - {name for (name,) in rows or []})
    if not missing:
        ctx.log(f"every module of plan {ctx.tenant.plan_code} is installed")
        return
    run_modules(ctx, missing)
    ctx.log(f"installed {', '.join(missing)} for plan {ctx.tenant.plan_code}")


def run_modules(ctx, modules, update=False):
    templates.odoo_modules(
        ctx.database,
        modules,
        ctx.tenant.runtime_role,
        update=update,
        server=ctx.server,
        allowed=list(ctx.tenant.allowed_modules),
    )


def final_state(state):
    def step(ctx):
        ctx.record("set_state", state)
        ctx.log(f"tenant is {state}")

    step.__name__ = f"final_state_{state}"
    return step


# ------------------------------------------------------------------ plans

# A copy (of a template, a tenant or a backup) made the tenant's own.
# Its analytics: the schema the BI role reads, the Superset workspace.
ANALYTICS = (
    ("create_schema", "Create the analytics schema", create_schema),
    ("superset_workspace", "Create the Superset workspace", superset_workspace.provision_step),
)
# What any database a tenant takes over gets: its identity, plan, admin.
OWN_IDENTITY = (
    ("reset_identity", "Give it its own identity", reset_identity),
    ("configure_tenant", "Push plan and settings", configure_tenant),
    ("set_admin", "Set the administrator", set_admin),
    *ANALYTICS,
)
MAKE_IT_ITS_OWN = (("neutralize", "Neutralize copied data", neutralize), *OWN_IDENTITY)

_PROVISION_TAIL = (
    ("create_database", "Create the database", create_database),
    ("create_roles", "Give the tenant its own roles", create_roles),
    ("copy_filestore", "Copy the filestore", copy_filestore),
    *MAKE_IT_ITS_OWN,
    ("activate", "Activate the tenant", activate_new_tenant),
)

_REMOVAL = (
    (
        "remove_superset_workspace",
        "Remove the Superset workspace",
        superset_workspace.removal_step,
    ),
    ("drop_database", "Drop the database", drop_database),
    ("drop_role", "Drop the database role", drop_role),
    ("remove_filestore", "Remove the filestore", remove_filestore),
    ("archive", "Archive the tenant", final_state(lifecycle.ARCHIVED)),
)

_FROM_TEMPLATE = (
    ("check_request", "Check the request", check_request),
    ("ensure_template", "Prepare the template", ensure_template),
    *_PROVISION_TAIL,
)
_ADOPT = ("adopt_pool_member", "Take a ready database from the pool", adopt_pool_member)


def _create_plan(params):
    # A signup on a plan with a warm pool: what the template path does in
    # ten steps was done ahead; the rest fits in two steps (each step costs
    # two commits), four with embedded BI (the Superset workspace comes
    # before the tenant is active, and may be retried on its own).
    if params.get("pooled"):
        return "create_pooled_bi" if params.get("bi") else "create_pooled"
    return "create"


def _with_data(params):
    return bool(params.get("with_data"))


def _clone_plan(params):
    return "clone_data" if _with_data(params) else "clone"


def undo_new_tenant(ctx):
    """A new tenant that did not reach 'active' loses whatever it got."""
    if ctx.tenant.state != lifecycle.ACTIVE:
        undo_partial_tenant(ctx)


# ---------------------------------------------------------- move between cells


def _target_cell(ctx):
    target = ctx.params.get("cell_code") or ""
    problem = cells.code_problem(target)
    if problem:
        raise PermanentError(problem)
    return target


def check_move(ctx):
    """The target cell is a cell's code and the database is the tenant's."""
    target = _target_cell(ctx)
    if pg.database_mark(ctx.server, ctx.database) != pg.owner_mark(ctx.mark):
        raise PermanentError(f"{ctx.database} is not {ctx.tenant.code}'s; nothing was changed.")
    ctx.log(f"moving {ctx.tenant.code} from cell {ctx.tenant.cell} to cell {target}")


def rekey_for_target_cell(ctx):
    """The tenant's role gets the target cell's password: from here on only
    the target cell's nodes can log in as it. Also re-seals the secrets kept
    inside the tenant database under the target cell's key (the Superset
    service login), which the old cell's key sealed."""
    target = _target_cell(ctx)
    role = ctx.tenant.runtime_role
    resealed = superset_workspace.reseal_for_cell(
        runtime_access.as_role(ctx.server, role, ctx.tenant.cell),
        ctx.database,
        ctx.tenant.cell,
        target,
    )
    runtime_access.ensure_owned_role(ctx.server, role, target)
    ctx.log(
        f"role {role} now has cell {target}'s password"
        + (" (service login re-sealed)" if resealed else "")
    )


def forget_in_old_cell(ctx):
    """The old cell's open connections of the tenant's role end: its nodes
    keep nothing of the tenant (a new login is refused by the new password)."""
    ended = runtime_access.forget_role_sessions(ctx.server, ctx.tenant.runtime_role)
    ctx.log(f"{ended} open connections of cell {ctx.tenant.cell} ended")


def switch_route(ctx):
    """The tenant's row moves to the target cell's routing view (the
    routing version moves with this step's commit)."""
    target = _target_cell(ctx)
    ctx.record("set_cell", target)
    ctx.log(f"routed to cell {target}")


def check_moved_tenant_answers(ctx):
    """The tenant's database answers to the target cell's password."""
    target = _target_cell(ctx)
    as_target = runtime_access.as_role(ctx.server, ctx.tenant.runtime_role, target)
    as_target.execute("SELECT 1", dbname=ctx.database)
    ctx.log(f"{ctx.database} answers as {ctx.tenant.runtime_role} of cell {target}")


_MOVE_CELL = (
    ("check_request", "Check the tenant and the target cell", check_move),
    ("rekey", "Give its role the target cell's password", rekey_for_target_cell),
    ("forget", "End the old cell's connections", forget_in_old_cell),
    ("switch_route", "Route it to the target cell", switch_route),
    ("check_answers", "Check it answers in the target cell", check_moved_tenant_answers),
)


# The engine's own kinds (kinds.py); ipai.tenant.job._job_kinds() is the
# whole set of a database, with the kinds its installed addons add.
KINDS = {
    kind.name: kind
    for kind in (
        JobKind(
            "create",
            {
                "create": _FROM_TEMPLATE,
                "create_pooled": (
                    _ADOPT,
                    (
                        "personalize",
                        "Set its URL, plan and administrator; activate",
                        personalize_and_activate,
                    ),
                ),
                "create_pooled_bi": (
                    _ADOPT,
                    ("personalize", "Set its URL, plan and administrator", personalize),
                    (
                        "superset_workspace",
                        "Create the Superset workspace",
                        superset_workspace.provision_step,
                    ),
                    ("activate", "Activate the tenant", activate_new_tenant),
                ),
            },
            choose=_create_plan,
            makes_database=always,
            undo=undo_new_tenant,
        ),
        JobKind(
            "clone",
            {
                "clone": _FROM_TEMPLATE,
                "clone_data": (
                    ("check_request", "Check the request", check_request),
                    *_PROVISION_TAIL,
                ),
            },
            params=frozenset({"source_code", "with_data"}),
            choose=_clone_plan,
            makes_database=always,
            copies_data=_with_data,
            undo=undo_new_tenant,
        ),
        JobKind(
            "suspend",
            {
                "suspend": (
                    ("push_state", "Block the tenant's users", push_state(lifecycle.SUSPENDED)),
                    ("suspend", "Mark suspended", final_state(lifecycle.SUSPENDED)),
                )
            },
        ),
        JobKind(
            "reactivate",
            {
                "reactivate": (
                    ("push_state", "Let the tenant's users in", push_state(lifecycle.ACTIVE)),
                    ("reactivate", "Mark active", final_state(lifecycle.ACTIVE)),
                )
            },
        ),
        JobKind(
            "change_plan",
            {
                "change_plan": (
                    ("configure_tenant", "Push the new plan", configure_tenant),
                    (
                        "install_plan_modules",
                        "Install the new plan's modules",
                        install_plan_modules,
                    ),
                )
            },
            params=frozenset({"plan_code"}),
        ),
        JobKind("move_cell", {"move_cell": _MOVE_CELL}, params=frozenset({"cell_code"})),
        JobKind("archive", {"archive": _REMOVAL}),
        JobKind("drop", {"drop": _REMOVAL}),
    )
}


def undo_partial_tenant(ctx):
    """After a permanent failure of a create or clone: remove whatever this
    tenant got (database, role, filestore) so a retry starts clean."""
    member = ctx.spec.pool_member
    if member and member.state == pool.CLAIMED and member.mine:
        # Claimed but not adopted yet: the member goes too, by its own names.
        ctx.log(f"removing the claimed pool member {member.database}")
        pool.remove(ctx.server, member.database, member.role, member.bi_role)
        ctx.record("forget_pool_member", member.id)
    _drop_own_database(ctx, None, f"removed the partial database {ctx.database}")
    filestore.remove(ctx.database)
    _drop_roles(ctx, "removed", only_existing=True)
