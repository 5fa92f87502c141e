"""Operator commands on tenants, run against the platform database.

    click-odoo-style options:  -c .local/odoo.conf -d ipai_platform
    tenants.py provision --code acme [--name ...] [--plan trial] [--type client]
                         [--parent CODE] [--email admin@acme.example]
                         [--admin-name "Ann Admin"] [--country BE]
    tenants.py list [--type ...] [--state ...]
    tenants.py clone --source acme --code acme-copy [--data]
    tenants.py suspend|reactivate|drop|archive|backup --code acme
    tenants.py list-backups [--code acme]
    tenants.py restore --backup ID [--code acme-restored]
    tenants.py test-restore [--backup ID]
    tenants.py export-backup --backup ID [--out FILE]
    tenants.py upgrade-tenants [--modules a,b] [--tenants acme,beta] [--concurrency 2]
    tenants.py introspect --code acme [--format dbml|md|erd|all] [--out DIR]
    tenants.py add-server --name db2 --host 10.0.0.5 [--port 5432] [--capacity 200]
    tenants.py set-replica --server db2 --host 10.0.0.6 [--port 5432] [--max-lag 30]
    tenants.py list-servers

Each command that changes something queues a job, runs it here (or follows
the cron worker that already took it) with a progress line per step, and
prints the result. `list` and `list-backups` only read: see TenantCLI.
Exit codes: 0 done, 1 the job failed, 2 bad input (one line on stderr,
checked before anything is written: nothing was changed; scripts/cli_input.py),
3 still running after IPAI_FOLLOW_SECONDS (default 900; the job goes on).
upgrade-tenants prints one line per tenant and exits 1 when any tenant was
rolled back (or failed).
"""

import configparser
import contextlib
import importlib.util
import os
import shutil
import sys
import time

import click
import psycopg2
from cli_input import (
    HOURS,
    NON_EMPTY,
    NOT_NEGATIVE,
    PORT,
    POSITIVE,
    RECORD_ID,
    OneLineErrors,
    fail_input,
)

JOB_FAILED = 1
STILL_RUNNING = 3
FOLLOW_SECONDS = float(os.environ.get("IPAI_FOLLOW_SECONDS") or 900)
# ipai.tenant's tenant_type (ipai_tenant_core/models/ipai_tenant.py).
TENANT_TYPES = ("client", "provider", "internal")
RULES = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "addons", "ipai_platform_rules"
)


def platform_rule(name):
    """ipai_platform_rules/<name>.py, loaded as a file: the listings answer
    without importing Odoo."""
    spec = importlib.util.spec_from_file_location(
        f"ipai_platform_rules_{name}", os.path.join(RULES, f"{name}.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TENANT_STATES = tuple(state for state, _label in platform_rule("lifecycle").STATES)


def check_new_file(path):
    """``path`` can be written: a file (new or replaced) in a folder that
    exists. Asked before anything is done, not after a long job."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        fail_input(f"{path} is a folder; name the file to write")
    if not os.path.isdir(folder):
        fail_input(f"no folder {folder} (make it first)")
    if not os.access(folder, os.W_OK):
        fail_input(f"cannot write into {folder}")


def check_out_folder(folder):
    """``folder`` exists and can be written: a command writes its files
    there and never makes it (a typo would scatter files elsewhere)."""
    if not os.path.isdir(folder):
        fail_input(f"no folder {folder} (make it first)")
    if not os.access(folder, os.W_OK):
        fail_input(f"cannot write into {folder}")


def find_tenant(env, code):
    tenant = env["ipai.tenant"].search([("code", "=", code)])
    if not tenant:
        fail_input(f"no tenant with code '{code}'")
    return tenant


def check_new_code(env, code):
    problem = env["ipai.tenant"]._new_code_problem(code)
    if problem:
        fail_input(problem)


def start(env, make_job):
    """Create the job in its own committed transaction, or exit 2 with the
    reason and nothing changed; then run it here. ``make_job`` may find
    nothing to do (no job): what it did is committed, None returned."""
    from odoo.exceptions import AccessError, UserError, ValidationError

    try:
        job = make_job()
    except (UserError, ValidationError, AccessError) as exc:
        env.cr.rollback()
        fail_input(str(exc.args[0] if exc.args else exc))
    except psycopg2.errors.SerializationFailure:
        env.cr.rollback()
        fail_input("another request changed the same records at the same time; run it again")
    if not job:
        env.cr.commit()
        return None
    runner = job._runner(on_progress=progress)
    runner.claim()  # before the commit wakes a cron worker
    env.cr.commit()
    return follow(env, job, runner)


def progress(job, step, event):
    total = len(job.step_ids)
    if step is not None and event == "started":
        click.echo(f"[{step.sequence}/{total}] {step.label} ...", nl=False)
    elif step is not None and event == "done" and step.skip_reason:
        click.echo(f" skipped: {step.skip_reason}")
    elif step is not None and event == "done":
        click.echo(f" done ({step.duration:.2f}s)")
    elif step is not None and event == "failed":
        click.echo(" FAILED")
    elif step is not None and event == "waiting":
        click.echo(" waiting")


def follow(env, job, runner):
    """Run the job here, or follow whoever runs it, for at most
    FOLLOW_SECONDS; a job still open then goes on without us."""
    deadline = time.monotonic() + FOLLOW_SECONDS
    while True:
        state = runner.run()
        # A new snapshot: the job may have moved in another worker's
        # transactions (a retry taken by the cron) since this one began.
        env.cr.rollback()
        if job.state not in ("queued", "running"):
            break
        left = deadline - time.monotonic()
        if left <= 0:
            stop_following(job)
        if state is None:  # a cron worker has it: follow its steps
            time.sleep(min(0.5, left))
            continue
        if job.state == "queued" and job.next_retry_at:
            wait = max((job.next_retry_at - job.next_retry_at.now()).total_seconds(), 0.5)
            click.echo(f"waiting ({job.error}); trying again in {wait:.0f}s")
            time.sleep(min(wait, 60, left))
    if job.state != "done":
        click.echo(f"error: {job.name} failed: {(job.error or '').splitlines()[0]}", err=True)
        sys.exit(JOB_FAILED)
    return job


def stop_following(job):
    step = job.current_step or "-"
    click.echo(
        f"error: stopped following {job.name} after {FOLLOW_SECONDS:.0f}s: the job is "
        f"{job.state} (step: {step}; {job.error or 'no error'}). It goes on in the platform's "
        "job runner; `make list-tenants` shows where it ends.",
        err=True,
    )
    sys.exit(STILL_RUNNING)


def report(env, tenant, job):
    click.echo(f"{job.name}: done in {job.duration:.2f}s")
    click.echo(f"  tenant:   {tenant.code} ({tenant.state})")
    if tenant.state == "active":
        click.echo(f"  url:      {tenant.url}")
        documented = tenant._documented_database_name()
        stored = tenant.database_name
        if stored == documented:
            click.echo(f"  database: {documented}")
        else:
            click.echo(
                f"  database: {documented} (stored as {stored}: RPC clients may name either;"
                " psql and pg_dump need the stored name)"
            )
        click.echo(f"  login:    {tenant.admin_email or 'admin'}")
        if tenant.admin_password_available:
            path = write_one_time_password(env, tenant)
            click.echo(f"  password: in {path} (shown once, readable by you only)")


def write_one_time_password(env, tenant):
    password = tenant._reveal_secret_once("admin_password")
    env.cr.commit()
    folder = os.path.join(os.environ.get("IPAI_CREDENTIALS_DIR", ".local/credentials"))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    path = os.path.join(folder, f"{tenant.code}-admin.txt")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(
            f"{tenant.url}\nlogin: {tenant.admin_email or 'admin'}\npassword: {password}\n"
        )
    return path


class TenantCLI(OneLineErrors, click.Group):
    """Commands that change something, or need Odoo's code to answer, run in
    an Odoo environment of the platform database as its superuser
    (click_odoo.env_options) and go through the model methods. Importing
    Odoo and loading the platform's registry take about 2 s, so that
    environment is built only when such a command is called.

    The listings (`list`, `list-backups`) are SELECTs of stored columns in a
    read-only transaction instead: the superuser they would run as sees every
    row (no access rule applies), so the output is the same in a tenth of the
    time. `pool-status` stays on the registry: its module-set key fingerprints
    the addons through Odoo's module loader (provisioning/templates.py)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.odoo_commands = {}

    def odoo_command(self, name, with_rollback=False):
        """Register ``function(env, ...)`` as the command ``name``, built
        with its Odoo options when it is called."""

        def register(function):
            self.odoo_commands[name] = (function, with_rollback)
            return function

        return register

    def list_commands(self, ctx):
        return sorted({*self.commands, *self.odoo_commands})

    def get_command(self, ctx, cmd_name):
        if cmd_name in self.odoo_commands and cmd_name not in self.commands:
            import click_odoo

            function, with_rollback = self.odoo_commands[cmd_name]
            options = click_odoo.env_options(default_log_level="warn", with_rollback=with_rollback)
            self.add_command(click.command(cmd_name)(options(function)))
        return super().get_command(ctx, cmd_name)


@click.group(cls=TenantCLI)
def cli():
    """ipai tenant operations."""


def platform_db_options(function):
    """-c and -d, as click_odoo.env_options declares them, for the listings."""
    function = click.option(
        "--database",
        "-d",
        envvar=["PGDATABASE"],
        help="The platform database (default: db_name of the configuration file).",
    )(function)
    return click.option(
        "--config",
        "-c",
        envvar=["ODOO_RC", "OPENERP_SERVER"],
        type=click.Path(exists=True, dir_okay=False),
        help="The Odoo configuration file: where and as whom to connect.",
    )(function)


@contextlib.contextmanager
def platform_cursor(config, database):
    """A cursor in a read-only transaction on the platform database,
    connected as Odoo connects (sql_db.connection_info_for): the db_* options
    of ``config`` that are set, libpq's environment (PGPASSWORD) for the rest."""
    options = {}
    if config:
        parser = configparser.RawConfigParser()
        parser.read(config)
        if parser.has_section("options"):
            options = dict(parser["options"])
    database = database or options.get("db_name")
    if not database or database.lower() == "false":
        raise click.UsageError("No database provided, please provide one with the -d option.")
    params = {}
    for key in ("host", "port", "user", "password", "sslmode"):
        value = options.get(f"db_{key}")
        if value and value.lower() != "false":
            params[key] = value
    try:
        connection = psycopg2.connect(dbname=database, application_name="ipai-cli", **params)
    except psycopg2.OperationalError as exc:
        raise click.ClickException(str(exc).strip()) from exc
    try:
        connection.set_session(readonly=True)
        with connection.cursor() as cr:
            yield cr
    finally:
        connection.close()


@cli.odoo_command("provision")
@click.option("--code", required=True, type=NON_EMPTY)
@click.option("--name")
@click.option("--plan", "plan_code", default="trial", show_default=True)
@click.option(
    "--type",
    "tenant_type",
    default="client",
    show_default=True,
    type=click.Choice(TENANT_TYPES),
)
@click.option("--parent", "parent_code")
@click.option("--email")
@click.option("--admin-name", help="The administrator's name (default: the tenant's name).")
@click.option("--country", "country_code", help="ISO code of the tenant's country, e.g. BE.")
def provision(
    env, code, name, plan_code, tenant_type, parent_code, email, admin_name, country_code
):
    """Create a tenant and its database."""
    check_new_code(env, code)
    plan = env["ipai.tenant.plan"].search([("code", "=", plan_code)])
    if not plan:
        fail_input(f"no plan with code '{plan_code}'")
    country = env["res.country"]
    if country_code:
        country = country.search([("code", "=ilike", country_code)], limit=1)
        if not country:
            fail_input(f"no country with code '{country_code}'")
    parent = find_tenant(env, parent_code) if parent_code else env["ipai.tenant"]

    def make_job():
        tenant = env["ipai.tenant"].create(
            {
                "code": code,
                "name": name or code,
                "plan_id": plan.id,
                "tenant_type": tenant_type,
                "parent_id": parent.id,
                "admin_email": email,
                "admin_name": admin_name,
                "country_id": country.id,
            }
        )
        tenant.action_provision()
        return tenant.job_ids[:1]

    job = start(env, make_job)
    report(env, job.tenant_id, job)


@cli.command("list")
@platform_db_options
@click.option("--type", "tenant_type", type=click.Choice(TENANT_TYPES))
@click.option("--state", type=click.Choice(TENANT_STATES))
def list_tenants(config, database, tenant_type, state):
    """List tenants."""
    with platform_cursor(config, database) as cr:
        cr.execute(
            """
            SELECT t.code, t.tenant_type, t.state, coalesce(plan.code, ''),
                   coalesce(parent.code, ''), coalesce(t.database_name, '')
              FROM ipai_tenant t
              LEFT JOIN ipai_tenant_plan plan ON plan.id = t.plan_id
              LEFT JOIN ipai_tenant parent ON parent.id = t.parent_id
             WHERE (%(type)s IS NULL OR t.tenant_type = %(type)s)
               AND (%(state)s IS NULL OR t.state = %(state)s)
             ORDER BY t.code
            """,
            {"type": tenant_type or None, "state": state or None},
        )
        rows = cr.fetchall()
    echo_table(
        "{:<24} {:<15} {:<13} {:<13} {:<16} {}",
        ("CODE", "TYPE", "STATE", "PLAN", "PARENT", "DATABASE"),
        rows,
        "tenant",
    )


def echo_table(line_format, titles, rows, noun):
    """Prints ``titles``, then each of ``rows``, through ``line_format`` (so
    that the columns line up), then how many rows there are."""
    click.echo(line_format.format(*titles))
    for row in rows:
        click.echo(line_format.format(*row))
    click.echo(f"{len(rows)} {noun}(s)")


@cli.odoo_command("clone")
@click.option("--source", "source_code", required=True, type=NON_EMPTY)
@click.option("--code", required=True, type=NON_EMPTY)
@click.option("--name")
@click.option("--data", "with_data", is_flag=True, help="Copy business data and files too.")
def clone(env, source_code, code, name, with_data):
    """Clone a tenant (structure only, or with its data)."""
    source = find_tenant(env, source_code)
    check_new_code(env, code)

    def make_job():
        return source._clone(code, name, with_data).job_ids[:1]

    job = start(env, make_job)
    report(env, job.tenant_id, job)


def _lifecycle_command(name, action_name, help_text):
    @click.option("--code", required=True, type=NON_EMPTY)
    def command(env, code):
        tenant = find_tenant(env, code)

        def make_job():
            getattr(tenant, action_name)()
            return tenant.job_ids.sorted("id")[-1:]

        job = start(env, make_job)
        report(env, tenant, job)

    command.__doc__ = help_text
    cli.odoo_command(name)(command)


_lifecycle_command("suspend", "action_suspend", "Suspend a tenant.")
_lifecycle_command("reactivate", "action_reactivate", "Reactivate a tenant.")
_lifecycle_command("drop", "action_drop", "Drop a tenant's database, role and files.")
_lifecycle_command("archive", "action_archive_tenant", "Back up, then drop a tenant.")


@cli.odoo_command("move-cell")
@click.option("--code", required=True, type=NON_EMPTY)
@click.option("--cell", "cell_code", required=True, type=NON_EMPTY, help="The target cell's code.")
def move_cell(env, code, cell_code):
    """Move a tenant to another cell (new password, new route, the old
    cell's connections ended); prints how long the move took."""
    tenant = find_tenant(env, code)

    def make_job():
        tenant.action_move_to_cell(cell_code)
        return tenant.job_ids.sorted("id")[-1:]

    job = start(env, make_job)
    report(env, tenant, job)
    click.echo(f"moved to cell {cell_code} in {job.duration:.2f}s")


@cli.odoo_command("move-server")
@click.option("--code", required=True, type=NON_EMPTY)
@click.option(
    "--server", "server_name", required=True, type=NON_EMPTY, help="The target server's name."
)
@click.option(
    "--grace-hours",
    type=HOURS,
    help="How long the old database is kept (default: the platform's setting).",
)
def move_server(env, code, server_name, grace_hours):
    """Move a tenant's database to another PostgreSQL server: prints the
    estimate, then the steps; the tenant is in maintenance during the copy."""
    tenant = find_tenant(env, code)

    def make_job():
        click.echo(tenant.action_move_to_server(server_name, grace_hours=grace_hours))
        return tenant.job_ids.sorted("id")[-1:]

    job = start(env, make_job)
    report(env, tenant, job)
    click.echo(f"moved to {tenant.server_id.name} in {job.duration:.2f}s")


@cli.odoo_command("drain-server")
@click.option("--server", "server_name", required=True, type=NON_EMPTY)
@click.option("--grace-hours", type=HOURS, help="How long each old database is kept.")
def drain_server(env, server_name, grace_hours):
    """Close a server to new tenants and queue a move of each of its tenants
    to the server the placement picks (the job runner moves them)."""
    from odoo.exceptions import AccessError, UserError

    server = env["ipai.tenant.server"].search([("name", "=", server_name)], limit=1)
    if not server:
        fail_input(f"no server named '{server_name}'")
    try:
        click.echo(server.action_drain(grace_hours=grace_hours))
    except (UserError, AccessError) as exc:
        env.cr.rollback()
        fail_input(str(exc.args[0]))
    env.cr.commit()


@cli.odoo_command("backup")
@click.option("--code", required=True, type=NON_EMPTY)
def backup(env, code):
    """Back a tenant up now (database and files, with their sha256)."""
    tenant = find_tenant(env, code)

    def make_job():
        tenant.action_backup()
        return tenant.job_ids.sorted("id")[-1:]

    job = start(env, make_job)
    click.echo(f"{job.name}: done in {job.duration:.2f}s")
    echo_backup(job.backup_id)


def echo_backup(record):
    click.echo(f"  backup:   {record.id} ({record.kind}, {record.size_mb:.1f} MB)")
    click.echo(f"  folder:   {record.folder}")
    click.echo(f"  sha256:   database {record.dump_sha256}")
    click.echo(f"            files    {record.filestore_sha256}")


@cli.command("list-backups")
@platform_db_options
@click.option("--code", type=NON_EMPTY)
def list_backups(config, database, code):
    """List backups, newest first (of one tenant with --code)."""
    with platform_cursor(config, database) as cr:
        tenant_id = None
        if code:
            cr.execute("SELECT id FROM ipai_tenant WHERE code = %s", [code])
            row = cr.fetchone()
            if not row:
                fail_input(f"no tenant with code '{code}'")
            tenant_id = row[0]
        # The ORM rounds size_mb (digits=(16, 1)) half up, as PostgreSQL's
        # round() does; Python's format alone would print 0.25 MB as 0.2.
        cr.execute(
            """
            SELECT b.id, t.code, b.backup_date, b.kind,
                   round((coalesce(b.dump_size, 0)::numeric + coalesce(b.filestore_size, 0))
                         / 1048576, 1),
                   b.test_state
              FROM ipai_tenant_backup b
              JOIN ipai_tenant t ON t.id = b.tenant_id
             WHERE %(tenant)s IS NULL OR b.tenant_id = %(tenant)s
             ORDER BY b.backup_date DESC, b.id DESC
            """,
            {"tenant": tenant_id},
        )
        rows = cr.fetchall()
    echo_table(
        "{:>6} {:<24} {:<20} {:<12} {:>8} {}",
        ("ID", "TENANT", "TAKEN (UTC)", "KIND", "MB", "TEST"),
        [
            (backup_id, tenant_code, str(taken), kind, f"{size_mb:.1f}", test_state)
            for backup_id, tenant_code, taken, kind, size_mb, test_state in rows
        ],
        "backup",
    )


@cli.odoo_command("restore")
@click.option("--backup", "backup_id", required=True, type=RECORD_ID)
@click.option("--code", help="Restore into this new tenant; without it, in place.")
@click.option("--name")
def restore(env, backup_id, code, name):
    """Restore a backup in place, or into a new tenant (--code)."""
    record = env["ipai.tenant.backup"].browse(backup_id).exists()
    if not record:
        fail_input(f"no backup with id {backup_id}")
    if code:
        check_new_code(env, code)

    def make_job():
        target = record._restore("new" if code else "in_place", code, name)
        return target.job_ids.sorted("id")[-1:]

    job = start(env, make_job)
    report(env, job.tenant_id, job)
    if job.backup_id:
        click.echo(f"  safety backup taken first: {job.backup_id.id}")


@cli.odoo_command("export-backup")
@click.option("--backup", "backup_id", required=True, type=RECORD_ID)
@click.option("--out", "out_path", help="Copy the zip to this file.")
def export_backup(env, backup_id, out_path):
    """A backup as Odoo's own backup zip, which any Odoo 18 restores (an
    export job, once per backup)."""
    if out_path:
        check_new_file(out_path)
    record = env["ipai.tenant.backup"].browse(backup_id).exists()
    if not record:
        fail_input(f"no backup with id {backup_id}")

    job = start(env, record._request_export)
    if job:
        click.echo(f"{job.name}: done in {job.duration:.2f}s")
    path = record._export_file()
    if out_path:
        # All of the tenant's data, its users' password hashes included:
        # readable by the operator only, as the one-time passwords are.
        descriptor = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(path, "rb") as source, os.fdopen(descriptor, "wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)
    size_mb = os.path.getsize(path) / 1048576
    click.echo(f"{record.name}: Odoo backup zip, {size_mb:.1f} MB")
    click.echo(f"  file:     {out_path or path}")


@cli.odoo_command("import-backup")
@click.option("--code", required=True, type=NON_EMPTY, help="The new tenant's code.")
@click.option(
    "--file",
    "zip_path",
    required=True,
    type=NON_EMPTY,
    help="Odoo's backup zip (dump.sql, filestore/).",
)
@click.option("--name")
@click.option("--plan", "plan_code", default="trial", show_default=True)
@click.option("--email", help="The administrator's e-mail (its login in the imported database).")
def import_backup(env, code, zip_path, name, plan_code, email):
    """A new tenant from a customer's Odoo 18 backup zip, checked first."""
    check_new_code(env, code)
    if not os.path.isfile(zip_path):
        fail_input(f"no file {zip_path}")
    plan = env["ipai.tenant.plan"].search([("code", "=", plan_code)])
    if not plan:
        fail_input(f"no plan with code '{plan_code}'")

    def make_job():
        values = {"code": code, "name": name or code, "plan_id": plan.id, "admin_email": email}
        tenant = env["ipai.tenant"]._import_odoo_backup(zip_path, values)
        return tenant.job_ids.sorted("id")[-1:]

    job = start(env, make_job)
    report(env, job.tenant_id, job)


@cli.odoo_command("test-restore")
@click.option(
    "--backup", "backup_id", type=RECORD_ID, help="Default: a random recent one, as the cron."
)
def test_restore(env, backup_id):
    """Restore a backup into a scratch database, load it, compare row counts, drop it."""
    backups = env["ipai.tenant.backup"]
    if backup_id is not None:
        record = backups.browse(backup_id).exists()
        if not record:
            fail_input(f"no backup with id {backup_id}")
        record._test_restore()
    else:
        record = backups._cron_test_restore()
        if not record:
            fail_input("no recent backup to test")
    env.cr.commit()
    click.echo(f"backup {record.id} ({record.name}): {record.test_state}")
    click.echo(record.test_message or "")
    sys.exit(0 if record.test_state == "passed" else JOB_FAILED)


def _cron_command(name, model, method, done_text, help_text):
    """A command doing now what a daily cron does; ``done_text`` takes the
    count the cron method returns."""

    def command(env):
        count = getattr(env[model], method)()
        env.cr.commit()
        click.echo(done_text.format(count))

    command.__doc__ = help_text
    cli.odoo_command(name)(command)


@cli.odoo_command("prune-backups")
def prune_backups(env):
    """Apply the retention policies now, as the daily cron does, naming
    each backup it removes (docs/backups.md, "Retention")."""
    pruned = env["ipai.tenant.backup"]._prune_backups()
    env.cr.commit()
    for backup_id, name in pruned:
        click.echo(f"pruned backup {backup_id}: {name}")
    click.echo(f"{len(pruned)} backup(s) pruned")


_cron_command(
    "collect-usage",
    "ipai.tenant.metric",
    "_cron_collect_usage",
    "usage collected for {} tenant(s)",
    "Record today's usage of every active tenant, as the daily cron does.",
)


def advance_run(env, run, attempts=5):
    """One step of the upgrade run, committed. The platform's cron may
    advance the same run at the same moment (a platform running beside the
    operator): the loser of that race rolls back and tries again."""
    for attempt in range(attempts):
        try:
            run._advance()
            env.cr.commit()
            return
        except psycopg2.errors.SerializationFailure:
            env.cr.rollback()
            run.invalidate_recordset()
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)


@cli.odoo_command("upgrade-tenants")
@click.option("--modules", default="", help="Comma-separated (default: each tenant's module set).")
@click.option("--tenants", "codes", default="", help="Comma-separated codes (default: all).")
@click.option("--concurrency", default=2, show_default=True, type=POSITIVE)
def upgrade_tenants(env, modules, codes, concurrency):
    """Upgrade the fleet: templates first, then each tenant (backup,
    maintenance, -u, smoke check), rolled back from its backup on failure."""
    from odoo.addons.ipai_tenant_engine.provisioning import runner
    from odoo.exceptions import AccessError, UserError, ValidationError

    try:
        run = env["ipai.tenant.upgrade.run"]._start(
            tenant_codes=[c.strip() for c in codes.split(",") if c.strip()] or None,
            modules=modules.split(","),
            concurrency=concurrency,
        )
    except (UserError, ValidationError, AccessError) as exc:
        env.cr.rollback()
        fail_input(str(exc.args[0] if exc.args else exc))
    env.cr.commit()
    click.echo(
        f"{run.name}: {len(run.line_ids)} tenant(s), modules: {run.modules or 'their module set'}, "
        f"{run.concurrency} at a time; rebuilding templates first"
    )
    reported = set()
    templates_shown = False
    deadline = time.monotonic() + FOLLOW_SECONDS
    while True:
        advance_run(env, run)
        if run.state != "preparing" and not templates_shown:
            templates_shown = True
            for line in (run.log or "").splitlines():
                click.echo(f"  template {line}")
        runner.drain(env.registry, concurrency=run.concurrency, budget_seconds=60)
        env.cr.rollback()  # a new snapshot: the jobs committed on their own cursors
        run.invalidate_recordset()
        for line in run.line_ids.sorted("sequence"):
            if line.state in ("upgraded", "rolled_back", "failed") and line.id not in reported:
                reported.add(line.id)
                click.echo(upgrade_line(line))
        if run.state == "done":
            break
        if time.monotonic() > deadline:
            click.echo(f"error: stopped following {run.name}; it goes on in the platform", err=True)
            sys.exit(STILL_RUNNING)
        time.sleep(0.5)  # the jobs may run in the platform's cron workers
    click.echo(
        f"{run.name}: {run.upgraded_count} upgraded, {run.rolled_back_count} rolled back, "
        f"{run.failed_count} failed"
    )
    sys.exit(JOB_FAILED if run.rolled_back_count or run.failed_count else 0)


def upgrade_line(line):
    label = dict(line._fields["state"].selection)[line.state].lower()
    if line.state == "upgraded":
        detail = f"in {line.duration:.1f}s, backup {line.backup_id.id} before"
    else:
        lines = [text for text in (line.error or "").splitlines() if text.strip()]
        detail = lines[0] if lines else ""
        if len(lines) > 1:
            detail += f" ... {lines[-1].strip()}"
    return f"{line.tenant_id.code:<24} {label:<12} {detail}"


@cli.odoo_command("reveal-password")
@click.option("--code", required=True, type=NON_EMPTY)
def reveal_password(env, code):
    """Write a tenant admin's one-time password to a private file, if it was
    never shown (e.g. the provisioning command was interrupted)."""
    tenant = find_tenant(env, code)
    if not tenant.admin_password_available:
        fail_input(f"the admin password of '{code}' was already shown or does not exist")
    click.echo(f"password: in {write_one_time_password(env, tenant)}")


@cli.odoo_command("introspect", with_rollback=True)
@click.option("--code", required=True, type=NON_EMPTY)
@click.option(
    "--format",
    "fmt",
    default="all",
    show_default=True,
    type=click.Choice(["dbml", "md", "erd", "all"]),
)
@click.option(
    "--out", "out_dir", default=".", show_default=True, help="Folder to write into (it must exist)."
)
def introspect(env, code, fmt, out_dir):
    """Document a tenant database's schema: DBML, Markdown, ERD JSON."""
    from odoo.addons.ipai_tenant_engine.provisioning.introspect import FORMATS
    from odoo.exceptions import UserError

    check_out_folder(out_dir)
    tenant = find_tenant(env, code)
    formats = FORMATS if fmt == "all" else (fmt,)
    try:
        documents = tenant._schema_documents(formats)
    except UserError as exc:
        fail_input(str(exc))
    for name, text in documents.items():
        path = os.path.join(out_dir, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        click.echo(path)


@cli.odoo_command("pool-status")
def pool_status(env):
    """Ready, building and stale warm-pool databases per plan (module set)."""
    rows = env["ipai.tenant.pool.member"]._status()
    if not rows:
        click.echo("no warm pool: set a pool size on a plan (Configuration > Plans)")
        return
    header = ("plan", "module set", "wanted", "ready", "building", "stale")
    click.echo("{:<12} {:<18} {:>6} {:>6} {:>8} {:>6}".format(*header))
    for row in rows:
        click.echo(
            f"{row['plan']:<12} {row['key']:<18} {row['wanted']:>6} {row['ready']:>6} "
            f"{row['building']:>8} {row['stale']:>6}"
        )


@cli.odoo_command("refill-pool")
@click.option("--plan", "plan_code", help="Set this plan's pool size first (with --size).")
@click.option("--size", type=NOT_NEGATIVE, help="Ready databases to keep (with --plan).")
def refill_pool(env, plan_code, size):
    """Retire stale pool members and build missing ones, as the cron does."""
    if (plan_code is None) != (size is None):
        fail_input("--plan and --size go together: --plan CODE --size N (N >= 0)")
    if plan_code:
        plan = env["ipai.tenant.plan"].search([("code", "=", plan_code)])
        if not plan:
            fail_input(f"no plan with code '{plan_code}'")
        plan.pool_size = size
        env.cr.commit()
    pool = env["ipai.tenant.pool.member"]
    while True:
        built = pool._cron_refill_pool()
        env.cr.commit()
        if not built or not pool._missing_count():
            break
    for row in pool._status():
        click.echo(f"{row['plan']}: {row['ready']}/{row['wanted']} ready, {row['stale']} stale")


@cli.odoo_command("add-server")
@click.option("--name", required=True, type=NON_EMPTY)
@click.option("--host", required=True, type=NON_EMPTY)
@click.option("--port", type=PORT, default=5432, show_default=True)
@click.option("--capacity", type=POSITIVE, help="Databases it may hold (default 200).")
def add_server(env, name, host, port, capacity):
    """Register a PostgreSQL server for tenant databases, once it is checked
    fit (scripts/add_server.sh prepares it first)."""
    from odoo.exceptions import UserError, ValidationError

    servers = env["ipai.tenant.server"]
    if servers.with_context(active_test=False).search_count([("name", "=", name)]):
        fail_input(f"a server named '{name}' exists already")
    try:
        server = servers._add_checked(name, host, port, capacity)
    except (UserError, ValidationError) as exc:
        env.cr.rollback()
        fail_input(str(exc.args[0]))
    env.cr.commit()
    echo_servers(server)


@cli.odoo_command("set-replica")
@click.option("--server", "server_name", required=True, type=NON_EMPTY)
@click.option("--host", default="", help="The replica's host; empty: no replica any more.")
@click.option("--port", type=PORT, default=5432, show_default=True)
@click.option("--max-lag", type=int, help="Seconds behind at most (default 30).")
def set_replica(env, server_name, host, port, max_lag):
    """Name a streaming replica of a server (checked first: a standby the
    platform's role reaches): read-only requests of its tenants go there."""
    from odoo.exceptions import AccessError, UserError, ValidationError

    server = env["ipai.tenant.server"].search([("name", "=", server_name)], limit=1)
    if not server:
        fail_input(f"no server named '{server_name}'")
    if max_lag is not None and max_lag <= 0:
        fail_input("--max-lag must be positive")
    try:
        server._set_replica(host, port, max_lag)
    except (UserError, ValidationError, AccessError) as exc:
        env.cr.rollback()
        fail_input(str(exc.args[0]))
    env.cr.commit()
    echo_servers(server)


@cli.odoo_command("list-servers")
def list_servers(env):
    """Database servers with what was last measured on each (checked now)."""
    servers = env["ipai.tenant.server"].search([])._check_health()
    env.cr.commit()
    echo_servers(servers)


def echo_servers(servers):
    rows = [
        (
            server.name,
            f"{server.host or '(local)'}:{server.port}",
            server.health,
            "open" if server.open_to_new else "closed",
            f"{server.tenant_count}/{server.capacity}",
            f"{server.size_mb:.0f}",
            f"{server.connection_count}/{server.max_connections}",
            server.dedicated_provider_id.code or server.dedicated_plan_id.code or "",
        )
        for server in servers
    ]
    echo_table(
        "{:<28} {:<22} {:<12} {:<7} {:>9} {:>9} {:>9}  {}",
        ("NAME", "ADDRESS", "HEALTH", "NEW", "DATABASES", "SIZE MB", "CONNS", "DEDICATED TO"),
        rows,
        "server",
    )
    for server in servers.filtered("health_message"):
        click.echo(f"{server.name}: {server.health_message}")
    for server in servers.filtered("replica_host"):
        click.echo(
            f"{server.name}: replica {server.replica_host}:{server.replica_port} "
            f"{server.replica_state or 'not checked'}, {server.replica_lag:.1f}s behind "
            f"(limit {server.replica_max_lag}s)"
        )


@cli.odoo_command("run-jobs")
@click.option("--limit", type=POSITIVE, help="At most this many jobs (default: until none is due).")
def run_jobs(env, limit):
    """Run due jobs and resume interrupted ones, as the cron does."""
    count = env["ipai.tenant.job"]._cron_run_jobs(limit=limit)
    env.cr.commit()
    click.echo(f"{count} job(s) processed")


if __name__ == "__main__":
    cli()
