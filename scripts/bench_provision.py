"""Benchmark: signups from the warm pool and from the template, a bulk
backlog drained by the runner, fresh installs for the ratio, and the memory
of one tenant runtime worker serving every tenant.

Run by scripts/bench_provision.sh (which makes a throwaway platform database
and two tenant runtimes: the one the signups log in through, and a
one-worker one for the memory figures); prints p50/p95 and ratios.

    bench_provision.py -c CONF -d PLATFORM_DB --tenants 20 --fresh 2 --server URL \
        --bulk 100 --memory-server URL --memory-pid PID
"""

import cProfile
import hashlib
import pstats
import statistics
import time
from pathlib import Path

import click
import click_odoo
import requests


def percentile(values, fraction):
    ordered = sorted(values)
    index = min(round(fraction * (len(ordered) - 1)), len(ordered) - 1)
    return ordered[index]


def wait_for_login(server, host, dbname, login, password, timeout=60):
    """First successful JSON-RPC login at the tenant's host name: the tenant
    is usable from here on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = requests.post(
            f"{server}/web/session/authenticate",
            headers={"Host": host},
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "params": {"db": dbname, "login": login, "password": password},
            },
            timeout=30,
        )
        # A worker that looked its host map up less than 0.1 s ago does not
        # know the new host yet: its "Unknown tenant" page (404, HTML) is a
        # "not yet", as a failed login is.
        if response.ok and response.json().get("result", {}).get("uid"):
            return
        time.sleep(0.05)
    raise RuntimeError(f"could not log in to {dbname}")


class Phases:
    """Where one signup's time goes: a mark at the request's end, the claim,
    the commit and each runner event (a step started, that is its first
    transaction committed; a step done, its second); for each stretch
    between two marks its seconds, the statements sent on Odoo's cursors and
    on the engine's own connections, and the PostgreSQL connections opened."""

    def __init__(self):
        self.marks = []
        self.active_at = None
        self.mark("begin")

    def mark(self, label):
        self.marks.append((label, time.monotonic(), *SQL_COUNTS.totals()))
        SQL_COUNTS.note(f"--- {label}")

    def progress(self, _job, step, event):
        self.mark(f"{step.name} {event}" if step else f"job {event}")

    def stretches(self):
        """[(label, seconds, statements, connections)], in order."""
        return [
            (label, end - start, odoo_end - odoo_start + raw_end - raw_start, conn_end - conn_start)
            for (_l, start, odoo_start, raw_start, conn_start), (
                label,
                end,
                odoo_end,
                raw_end,
                conn_end,
            ) in zip(self.marks, self.marks[1:], strict=False)
        ]


class SqlCounts:
    """Statements and new connections in this process: Odoo's cursors count
    their own (sql_db.sql_counter); psycopg2.connect is wrapped to count new
    connections and, on those Odoo does not own (the runner's lock, the
    engine's servers), the statements."""

    def __init__(self):
        self.raw = 0
        self.connections = 0
        self.log = None  # a list to append each statement to, when asked

    def note(self, text):
        if self.log is not None:
            self.log.append(" ".join(str(text).split())[:300])

    def install(self):
        import psycopg2
        import psycopg2.extensions

        counts = self

        class CountingCursor(psycopg2.extensions.cursor):
            def execute(self, query, params=None):
                counts.raw += 1
                if counts.log is not None:
                    if isinstance(query, bytes):
                        query = query.decode()
                    elif not isinstance(query, str):
                        query = query.as_string(self)
                    counts.note(f"  engine: {query}")
                return super().execute(query, params)

        connect = psycopg2.connect

        def counting_connect(*args, **kwargs):
            counts.connections += 1
            if counts.log is not None:
                counts.note(f"  CONNECT {kwargs.get('dbname') or kwargs.get('database')}")
            if "connection_factory" not in kwargs:
                kwargs["cursor_factory"] = CountingCursor
            return connect(*args, **kwargs)

        psycopg2.connect = counting_connect

        from odoo import sql_db

        execute = sql_db.Cursor.execute

        def noting_execute(cursor, query, params=None, log_exceptions=True):
            if counts.log is not None:
                counts.note(f"  odoo: {query}")
            return execute(cursor, query, params, log_exceptions)

        sql_db.Cursor.execute = noting_execute

    def totals(self):
        from odoo import sql_db

        return sql_db.sql_counter, self.raw, self.connections


SQL_COUNTS = SqlCounts()


def provision(env, code, profiler=None, values=None):
    """A signup as the platform handles it: the request (tenant record, job,
    a pool member claimed when one is ready) in one transaction, then the job
    run at once, as the cron woken by the request does (under ``profiler``,
    request and run, when given; ``values``: more of the tenant's fields).
    Returns the tenant, the job, the admin's password and the signup's
    Phases."""
    phases = Phases()
    if profiler:
        profiler.enable()
    tenant = env["ipai.tenant"].create(
        {"code": code, "name": code, "admin_email": f"admin@{code}.example", **(values or {})}
    )
    tenant.action_provision()
    job = tenant.job_ids[:1]
    phases.mark("request")
    runner = job._runner(phases.progress)
    runner.claim()
    phases.mark("claim")
    env.cr.commit()
    phases.mark("request commit")
    state = runner.run()
    phases.active_at = time.monotonic()
    if profiler:
        profiler.disable()
    env.invalidate_all()
    if state != "done":
        raise RuntimeError(f"{code}: {job.error}")
    password = tenant._reveal_secret_once("admin_password")
    env.cr.commit()
    phases.mark("password revealed")
    return tenant, job, password, phases


def fresh_install(env, dbname, modules):
    """What building a template costs: an empty database handed to the
    template owner, and the same separate Odoo (`-i`) logged in as it."""
    from odoo.addons.ipai_platform_rules import naming
    from odoo.addons.ipai_tenant_core.infra import pg
    from odoo.addons.ipai_tenant_engine.provisioning import templates

    server = env["ipai.tenant.server"]._default_server()._pg_server()
    owner = naming.template_owner_role(env["ipai.tenant"]._name_prefixes()[1])
    started = time.monotonic()
    pg.create_empty_database(server, dbname)
    pg.hand_over(server, dbname, owner, owner)
    templates.odoo_modules(dbname, modules, owner, server=server)
    return time.monotonic() - started


def step_medians(jobs):
    """Each step's p50 over the timed jobs: where the time goes."""
    durations = {}
    for job in jobs:
        for step in job.step_ids.sorted("sequence"):
            durations.setdefault(step.name, []).append(step.duration)
    return {name: statistics.median(values) for name, values in durations.items()}


def signups(env, server, prefix, count, profiler=None):
    """``count`` signups in a row: request -> active, request -> login-ready;
    then, off the clock as in production (other processes), what the
    activation left to the crons: the welcome mail, the webhook fan-out."""
    request_to_active, request_to_login, jobs, after, stretches = [], [], [], [], []
    for index in range(1, count + 1):
        code = f"{prefix}-{index:03d}"
        started = time.monotonic()
        tenant, job, password, phases = provision(env, code, profiler)
        jobs.append(job)
        # Active once the job's run returns: the bench's own reading of the
        # admin's password comes after, on the way to the login.
        active = phases.active_at - started
        wait_for_login(
            server, tenant.primary_domain, tenant.database_name, tenant.admin_email, password
        )
        phases.mark("first login")
        request_to_active.append(active)
        request_to_login.append(time.monotonic() - started)
        started = time.monotonic()
        after_activation(env)
        after.append(time.monotonic() - started)
        # Off the clock, what the first login is made of: a second login
        # (registry, route and caches warm) and Odoo's password hash alone.
        phases.mark("(off the clock) crons' share")
        wait_for_login(
            server, tenant.primary_domain, tenant.database_name, tenant.admin_email, password
        )
        phases.mark("(off the clock) second login")
        hashlib.pbkdf2_hmac("sha512", password.encode(), b"0123456789abcdef", 600_000)
        phases.mark("(off the clock) pbkdf2 of 600000 rounds")
        stretches.append(phases.stretches())
        click.echo(f"  {code}: active {active:.3f}s, login-ready {request_to_login[-1]:.3f}s")
    return request_to_active, request_to_login, jobs, after, stretches


def phase_table(stretches):
    """Per stretch of a signup (in order): p50 seconds, and the mean of its
    statements and of the connections it opened."""
    rows = []
    for index, (label, *_figures) in enumerate(stretches[0]):
        runs = [signup[index] for signup in stretches if len(signup) > index]
        rows.append(
            f"  {label:<34} p50 {statistics.median(r[1] for r in runs):7.4f}s   "
            f"SQL {statistics.mean(r[2] for r in runs):5.1f}   "
            f"new connections {statistics.mean(r[3] for r in runs):4.1f}"
        )
    return rows


def after_activation(env):
    """What the crons woken by an activation do, where they exist: queue the
    welcome mail, fan the webhook events out (not sent: the bench's receiver
    does not listen)."""
    tenants = env["ipai.tenant"]
    if hasattr(tenants, "_cron_send_welcome_mails"):
        tenants._cron_send_welcome_mails()
    events = env.get("ipai.webhook.event")
    if events is not None and hasattr(events, "_fan_out"):
        events._fan_out()
    env.cr.commit()


def welcome_mails(env, tenants):
    """Each signup's admin got one welcome mail queued: the count of signups
    with exactly one, and of those with another number."""
    env.cr.execute(
        """SELECT t.code, count(m.id) FROM ipai_tenant t
             LEFT JOIN mail_mail m ON m.email_to = t.admin_email
            WHERE t.id = ANY(%s) GROUP BY t.code""",
        [tenants.ids],
    )
    counts = dict(env.cr.fetchall())
    return sum(1 for n in counts.values() if n == 1), sum(1 for n in counts.values() if n != 1)


def subscribe_webhook(env):
    """A platform webhook subscribed to every event, as a production platform
    has: the activation's events find a subscriber (nothing is sent: no
    cron runs here, and its port does not listen)."""
    env["ir.config_parameter"].sudo().set_param(
        "ipai_tenant_notify.outbound_allow_hosts", "127.0.0.2"
    )
    owner = env["ipai.tenant"].search([("tenant_type", "=", "platform_owner")], limit=1)
    env["ipai.webhook"].create(
        {"name": "bench", "owner_id": owner.id, "url": "http://127.0.0.2:9/bench"}
    )
    env.cr.commit()


def fill_pool(env, size, server_log=None, workers=0):
    """Members made as the refill cron makes them; then, as in production
    where members wait long before their signup, until the tenant runtime's
    workers have preloaded them (read from its log)."""
    plan = env.ref("ipai_tenant_core.plan_trial")
    plan.pool_size = size
    env.cr.commit()
    pool = env["ipai.tenant.pool.member"]
    started = time.monotonic()
    while pool._cron_refill_pool():
        env.cr.commit()
    env.cr.commit()
    members = pool.search([("state", "=", "ready")]).mapped("database_name")
    click.echo(f"  warm pool: {len(members)} ready in {time.monotonic() - started:.1f}s")
    if members and server_log and workers:
        started = time.monotonic()
        while time.monotonic() - started < 120:
            text = Path(server_log).read_text()
            if all(text.count(f"preload: {name} loaded") >= workers for name in members):
                click.echo(
                    f"  preloaded by the runtime's {workers} workers in "
                    f"{time.monotonic() - started:.1f}s"
                )
                break
            time.sleep(0.2)
        else:
            click.echo("  the runtime did not preload every member within 120 s")


def bulk(env, count):
    """``count`` signups queued at once, then drained by the job runner as
    one cron worker does (its threads: runner_concurrency, default the CPUs)."""
    tenants = env["ipai.tenant"].create(
        [{"code": f"bulk-{index:03d}", "name": f"Bulk {index}"} for index in range(count)]
    )
    tenants.action_provision()
    env.cr.commit()
    started = time.monotonic()
    calls = 0
    while env["ipai.tenant"].search_count([("id", "in", tenants.ids), ("state", "!=", "active")]):
        env["ipai.tenant.job"]._cron_run_jobs()
        env.cr.commit()
        env.invalidate_all()
        calls += 1
        if time.monotonic() - started > 900:
            raise RuntimeError("the bulk backlog did not drain within 15 minutes")
    return time.monotonic() - started, calls


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def children(pid):
    path = f"/proc/{pid}/task/{pid}/children"
    with open(path) as handle:
        return [int(child) for child in handle.read().split()]


def memory(env, server, pid):
    """Every tenant visited (GET /web/login through its host name) on a tenant
    runtime with one HTTP worker: each first visit loads a registry there.
    The worker's RSS is read after each first visit; a worker replaced
    meanwhile (Odoo recycles one past limit_memory_soft) starts a new series."""
    from odoo.tools import config

    tenants = env["ipai.tenant"].search([("state", "=", "active")])
    series = {}  # worker pid -> RSS (MB) after each first visit it served
    cold, warm = [], []
    for tenant in tenants:
        url = f"{server}/web/login"
        headers = {"Host": tenant.primary_domain}
        started = time.monotonic()
        requests.get(url, headers=headers, timeout=60).raise_for_status()
        cold.append(time.monotonic() - started)
        started = time.monotonic()
        requests.get(url, headers=headers, timeout=60).raise_for_status()
        warm.append(time.monotonic() - started)
        # The HTTP worker is the biggest child (the other serves websockets).
        sizes = {child: rss_mb(child) for child in children(pid)}
        worker = max(sizes, key=sizes.get)
        series.setdefault(worker, []).append(sizes[worker])
    slopes = [(rss[-1] - rss[0]) / (len(rss) - 1) for rss in series.values() if len(rss) > 1]
    return {
        "tenants": len(tenants),
        "series": series,
        "per_registry": max(slopes) if slopes else 0.0,
        "cold": cold,
        "warm": warm,
        "soft_mb": int(config["limit_memory_soft"]) / 1024 / 1024,
    }


def line(label, values):
    return (
        f"{label:<38} p50 {statistics.median(values):7.3f}s   "
        f"p95 {percentile(values, 0.95):7.3f}s   n={len(values)}"
    )


@click.command()
@click_odoo.env_options(default_log_level="warn", with_rollback=False)
@click.option("--tenants", default=20, show_default=True)
@click.option("--fresh", default=2, show_default=True, help="Fresh installs to time.")
@click.option("--bulk", "bulk_count", default=100, show_default=True)
@click.option("--server", required=True, help="URL of an Odoo serving the tenant databases.")
@click.option("--memory-server", help="A one-worker tenant runtime for the memory figures.")
@click.option("--memory-pid", type=int, help="Its main process.")
@click.option("--server-log", help="Log of the tenant runtime (preload lines).")
@click.option("--server-workers", type=int, default=0)
@click.option("--fresh-db-prefix", required=True)
@click.option(
    "--webhook/--no-webhook",
    default=True,
    show_default=True,
    help="Subscribe a webhook to every event first, as a production platform has.",
)
@click.option("--profile", "profile_path", help="cProfile the pool signups into this file.")
@click.option("--sql-log", "sql_log_path", help="Write the pool signups' statements here.")
def main(
    env,
    tenants,
    fresh,
    bulk_count,
    server,
    memory_server,
    memory_pid,
    server_log,
    server_workers,
    fresh_db_prefix,
    webhook,
    profile_path,
    sql_log_path,
):
    if webhook and "ipai.webhook" in env:
        subscribe_webhook(env)
        click.echo("a webhook is subscribed to every event")

    click.echo("warming up: first tenant builds the template (not timed)")
    SQL_COUNTS.install()
    warm_tenant, _job, _password, _phases = provision(env, "bench-warmup")
    modules = warm_tenant._engine_module_set()
    click.echo(f"module set: {', '.join(modules)}")

    click.echo(f"template path: {tenants} signups with no pool")
    tpl_active, tpl_login, tpl_jobs, tpl_after, tpl_stretches = signups(
        env, server, "bench-tpl", tenants
    )

    click.echo(f"warm pool: {tenants} signups, each taking a ready database")
    fill_pool(env, tenants, server_log, server_workers)
    profiler = cProfile.Profile() if profile_path else None
    if sql_log_path:
        SQL_COUNTS.log = []
    pool_active, pool_login, pool_jobs, pool_after, pool_stretches = signups(
        env, server, "bench-pool", tenants, profiler
    )
    if profiler:
        profiler.dump_stats(profile_path)
        with open(f"{profile_path}.txt", "w") as report:
            stats = pstats.Stats(profiler, stream=report).sort_stats("cumulative")
            stats.print_stats(60)
        click.echo(f"  profile of the pool signups: {profile_path} (top: {profile_path}.txt)")
    if sql_log_path:
        Path(sql_log_path).write_text("\n".join(SQL_COUNTS.log) + "\n")
        SQL_COUNTS.log = None
        click.echo(f"  statements of the pool signups: {sql_log_path}")
    fill_pool(env, 0)
    signed_up = env["ipai.tenant"].union(*(job.tenant_id for job in tpl_jobs + pool_jobs))
    mailed_once, mailed_otherwise = welcome_mails(env, signed_up)

    click.echo(f"bulk: {bulk_count} signups queued at once, drained by the job runner")
    bulk_seconds, bulk_calls = bulk(env, bulk_count)
    click.echo(f"  all {bulk_count} active after {bulk_seconds:.1f}s ({bulk_calls} runner call(s))")

    fresh_times = []
    for index in range(1, fresh + 1):
        seconds = fresh_install(env, f"{fresh_db_prefix}{index}", modules)
        fresh_times.append(seconds)
        click.echo(f"  fresh install #{index}: {seconds:.2f}s")

    click.echo("")
    click.echo(line("pool: request -> active", pool_active))
    click.echo(line("pool: request -> login-ready", pool_login))
    click.echo(line("template: request -> active", tpl_active))
    click.echo(line("template: request -> login-ready", tpl_login))
    click.echo(line("after activation: crons' share", pool_after + tpl_after))
    click.echo(
        f"{'welcome mails queued':<38} {mailed_once} signups with one, "
        f"{mailed_otherwise} with none or several"
    )
    if fresh_times:
        fresh_p50 = statistics.median(fresh_times)
        click.echo(line("fresh install (-i, no demo)", fresh_times))
        click.echo(
            f"{'speed-up vs fresh (login-ready p50)':<38} pool "
            f"{fresh_p50 / statistics.median(pool_login):.1f}x, template "
            f"{fresh_p50 / statistics.median(tpl_login):.1f}x"
        )
    click.echo(
        f"{'bulk: queued -> all active':<38} {bulk_seconds:.1f}s for {bulk_count} "
        f"({bulk_count / bulk_seconds:.1f} tenants/s, "
        f"{env['ipai.tenant.job']._runner_concurrency()} runner threads)"
    )
    pool_first = [b - a for a, b in zip(pool_active, pool_login, strict=True)]
    click.echo(line("pool: active -> first login", pool_first))
    for label, jobs in (("pool", pool_jobs), ("template", tpl_jobs)):
        click.echo(
            f"{label} step p50 (s): "
            + ", ".join(f"{name} {seconds:.3f}" for name, seconds in step_medians(jobs).items())
        )
    for label, stretches in (("pool", pool_stretches), ("template", tpl_stretches)):
        click.echo(f"{label} signup, stretch by stretch (each ends at its mark):")
        for row in phase_table(stretches):
            click.echo(row)
    checks = {
        "pool active p50 <= 0.1 s": statistics.median(pool_active) <= 0.1,
        "pool login-ready p50 <= 0.6 s": statistics.median(pool_login) <= 0.6,
        "template login-ready p50 <= 1.3 s": statistics.median(tpl_login) <= 1.3,
        f"bulk {bulk_count} within 90 s": bulk_seconds <= 90,
        "one welcome mail per signup": not mailed_otherwise,
    }
    if memory_server and memory_pid:
        figures = memory(env, memory_server, memory_pid)
        click.echo("")
        click.echo(f"memory: one tenant runtime worker, {figures['tenants']} tenants visited")
        for worker, rss in figures["series"].items():
            click.echo(
                f"  worker {worker}: {len(rss)} first visit(s), "
                f"RSS {rss[0]:.0f} -> {rss[-1]:.0f} MB"
            )
        if len(figures["series"]) > 1:
            click.echo("  (a new worker: Odoo recycled the previous one past limit_memory_soft)")
        per_registry = figures["per_registry"]
        lru = int(figures["soft_mb"] / 15)
        click.echo(
            f"  per tenant registry: {per_registry:.1f} MB; Odoo's registry LRU holds {lru} "
            f"(limit_memory_soft {figures['soft_mb']:.0f} MB / 15 MB)"
        )
        first = min(rss[0] for rss in figures["series"].values())
        fits = int((figures["soft_mb"] - first) / per_registry) if per_registry else 0
        click.echo(
            f"  tenants one worker holds warm: {min(lru, fits)} (the LRU's {lru}; memory "
            f"would allow about {fits} under limit_memory_soft)"
        )
        click.echo(line("  first request (registry load)", figures["cold"]))
        click.echo(line("  next request (warm)", figures["warm"]))
    click.echo("")
    for label, ok in checks.items():
        click.echo(f"target {label}: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
