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
    tenants.py upgrade-tenants [--modules a,b] [--tenants acme,beta] [--concurrency 2]
    tenants.py introspect --code acme [--format dbml|md|erd|all] [--out DIR]

Each command queues a job, runs it here (or follows the cron worker that
already took it) with a progress line per step, and prints the result.
Exit codes: 0 done, 1 the job failed, 2 bad input (nothing was changed),
3 still running after IPAI_FOLLOW_SECONDS (default 900; the job goes on).
upgrade-tenants prints one line per tenant and exits 1 when any tenant was
rolled back (or failed).
"""

import os
import sys
import time

import click
import click_odoo
import psycopg2
from odoo.exceptions import AccessError, UserError, ValidationError

BAD_INPUT = 2
JOB_FAILED = 1
STILL_RUNNING = 3
FOLLOW_SECONDS = float(os.environ.get("IPAI_FOLLOW_SECONDS") or 900)


def fail_input(message):
    click.echo(f"error: {message}", err=True)
    sys.exit(BAD_INPUT)


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
    reason and nothing changed; then run it here."""
    try:
        job = make_job()
    except (UserError, ValidationError, AccessError) as exc:
        env.cr.rollback()
        fail_input(str(exc.args[0] if exc.args else exc))
    except psycopg2.errors.SerializationFailure:
        env.cr.rollback()
        fail_input("another request changed the same records at the same time; run it again")
    runner = job._runner(on_progress=progress)
    runner.claim()  # before the commit wakes a cron worker
    env.cr.commit()
    return follow(env, job, runner)


def progress(job, step, event):
    total = len(job.step_ids)
    if step is not None and event == "started":
        click.echo(f"[{step.sequence}/{total}] {step.label} ...", nl=False)
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
        click.echo(f"  database: {tenant.database_name}")
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


@click.group()
def cli():
    """ipai tenant operations."""


@cli.command()
@click_odoo.env_options(default_log_level="warn", with_rollback=False)
@click.option("--code", required=True)
@click.option("--name")
@click.option("--plan", "plan_code", default="trial", show_default=True)
@click.option(
    "--type",
    "tenant_type",
    default="client",
    show_default=True,
    type=click.Choice(["client", "provider", "internal"]),
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
@click_odoo.env_options(default_log_level="warn")
@click.option("--type", "tenant_type")
@click.option("--state")
def list_tenants(env, tenant_type, state):
    """List tenants."""
    domain = [("tenant_type", "=", tenant_type)] if tenant_type else []
    domain += [("state", "=", state)] if state else []
    tenants = env["ipai.tenant"].search(domain, order="code")
    click.echo(f"{'CODE':<24} {'TYPE':<15} {'STATE':<13} {'PLAN':<13} {'PARENT':<16} DATABASE")
    for t in tenants:
        click.echo(
            f"{t.code:<24} {t.tenant_type:<15} {t.state:<13} {t.plan_id.code or '':<13} "
            f"{t.parent_id.code or '':<16} {t.database_name or ''}"
        )
    click.echo(f"{len(tenants)} tenant(s)")


@cli.command()
@click_odoo.env_options(default_log_level="warn", with_rollback=False)
@click.option("--source", "source_code", required=True)
@click.option("--code", required=True)
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


def _lifecycle_command(action_name, help_text):
    @click_odoo.env_options(default_log_level="warn", with_rollback=False)
    @click.option("--code", required=True)
    def command(env, code):
        tenant = find_tenant(env, code)

        def make_job():
            getattr(tenant, action_name)()
            return tenant.job_ids.sorted("id")[-1:]

        job = start(env, make_job)
        report(env, tenant, job)

    command.__doc__ = help_text
    return command


cli.command("suspend")(_lifecycle_command("action_suspend", "Suspend a tenant."))
cli.command("reactivate")(_lifecycle_command("action_reactivate", "Reactivate a tenant."))
cli.command("drop")(_lifecycle_command("action_drop", "Drop a tenant's database, role and files."))
cli.command("archive")(_lifecycle_command("action_archive_tenant", "Back up, then drop a tenant."))


@cli.command("backup")
@click_odoo.env_options(default_log_level="warn", with_rollback=False)
@click.option("--code", required=True)
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
@click_odoo.env_options(default_log_level="warn")
@click.option("--code")
def list_backups(env, code):
    """List backups, newest first (of one tenant with --code)."""
    domain = [("tenant_id", "=", find_tenant(env, code).id)] if code else []
    records = env["ipai.tenant.backup"].search(domain)
    click.echo(f"{'ID':>6} {'TENANT':<24} {'TAKEN (UTC)':<20} {'KIND':<12} {'MB':>8} TEST")
    for b in records:
        click.echo(
            f"{b.id:>6} {b.tenant_id.code:<24} {b.backup_date!s:<20} {b.kind:<12} "
            f"{b.size_mb:>8.1f} {b.test_state}"
        )
    click.echo(f"{len(records)} backup(s)")


@cli.command("restore")
@click_odoo.env_options(default_log_level="warn", with_rollback=False)
@click.option("--backup", "backup_id", required=True, type=int)
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


@cli.command("test-restore")
@click_odoo.env_options(default_log_level="warn", with_rollback=False)
@click.option("--backup", "backup_id", type=int, help="Default: a random recent one, as the cron.")
def test_restore(env, backup_id):
    """Restore a backup into a scratch database, load it, compare row counts, drop it."""
    backups = env["ipai.tenant.backup"]
    if backup_id:
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


@cli.command("prune-backups")
@click_odoo.env_options(default_log_level="warn", with_rollback=False)
def prune_backups(env):
    """Apply the retention policies now, as the daily cron does."""
    count = env["ipai.tenant.backup"]._cron_prune_backups()
    env.cr.commit()
    click.echo(f"{count} backup(s) pruned")


@cli.command("upgrade-tenants")
@click_odoo.env_options(default_log_level="warn", with_rollback=False)
@click.option("--modules", default="", help="Comma-separated (default: each tenant's module set).")
@click.option("--tenants", "codes", default="", help="Comma-separated codes (default: all).")
@click.option("--concurrency", default=2, show_default=True, type=int)
def upgrade_tenants(env, modules, codes, concurrency):
    """Upgrade the fleet: templates first, then each tenant (backup,
    maintenance, -u, smoke check), rolled back from its backup on failure."""
    from odoo.addons.ipai_tenant_engine.provisioning import runner

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
        run._advance()
        env.cr.commit()
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


@cli.command("reveal-password")
@click_odoo.env_options(default_log_level="warn", with_rollback=False)
@click.option("--code", required=True)
def reveal_password(env, code):
    """Write a tenant admin's one-time password to a private file, if it was
    never shown (e.g. the provisioning command was interrupted)."""
    tenant = find_tenant(env, code)
    if not tenant.admin_password_available:
        fail_input(f"the admin password of '{code}' was already shown or does not exist")
    click.echo(f"password: in {write_one_time_password(env, tenant)}")


@cli.command()
@click_odoo.env_options(default_log_level="warn")
@click.option("--code", required=True)
@click.option(
    "--format",
    "fmt",
    default="all",
    show_default=True,
    type=click.Choice(["dbml", "md", "erd", "all"]),
)
@click.option("--out", "out_dir", default=".", show_default=True, help="Folder to write into.")
def introspect(env, code, fmt, out_dir):
    """Document a tenant database's schema: DBML, Markdown, ERD JSON."""
    from odoo.addons.ipai_tenant_engine.provisioning.introspect import FORMATS

    tenant = find_tenant(env, code)
    formats = FORMATS if fmt == "all" else (fmt,)
    try:
        documents = tenant._schema_documents(formats)
    except UserError as exc:
        fail_input(str(exc))
    os.makedirs(out_dir, exist_ok=True)
    for name, text in documents.items():
        path = os.path.join(out_dir, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        click.echo(path)


@cli.command("collect-usage")
@click_odoo.env_options(default_log_level="warn", with_rollback=False)
def collect_usage(env):
    """Record today's usage of every active tenant, as the daily cron does."""
    count = env["ipai.tenant.metric"]._cron_collect_usage()
    env.cr.commit()
    click.echo(f"usage collected for {count} tenant(s)")


@cli.command("pool-status")
@click_odoo.env_options(default_log_level="warn", with_rollback=False)
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


@cli.command("refill-pool")
@click_odoo.env_options(default_log_level="warn", with_rollback=False)
@click.option("--plan", "plan_code", help="Set this plan's pool size first (with --size).")
@click.option("--size", type=int)
def refill_pool(env, plan_code, size):
    """Retire stale pool members and build missing ones, as the cron does."""
    if plan_code:
        plan = env["ipai.tenant.plan"].search([("code", "=", plan_code)])
        if not plan or size is None or size < 0:
            fail_input("--plan needs an existing plan code and --size N (N >= 0)")
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


@cli.command("run-jobs")
@click_odoo.env_options(default_log_level="warn", with_rollback=False)
@click.option("--limit", type=int, help="At most this many jobs (default: until none is due).")
def run_jobs(env, limit):
    """Run due jobs and resume interrupted ones, as the cron does."""
    count = env["ipai.tenant.job"]._cron_run_jobs(limit=limit)
    env.cr.commit()
    click.echo(f"{count} job(s) processed")


if __name__ == "__main__":
    cli()
