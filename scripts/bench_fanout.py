"""`make bench-fanout`: what spreading traffic over many tenants costs a request.

Run by scripts/bench_fanout.sh (which makes a throwaway platform database and
drops everything at the end). One ORM call (``res.users.search_count`` over
JSON-RPC, in a logged-in web session, at the tenant's host name), p50 in
milliseconds: on one tenant, then round-robin over each --fanout count of
tenants; the tenant runtime (2 workers, as in the issue's figures) reaching
PostgreSQL directly, then through PgBouncer (scripts/pgbouncer.py).

Tenants: one provisioned as a signup is, the others made cheaply as tests
make theirs: a copy of its database (CREATE DATABASE ... TEMPLATE), a tenant
record of their own (code, host, database, role) made active, and a login
role of their own that is a member of the first tenant's role (the copy's
tables are that role's). A copy is a database of its own, reached with a
role of its own: what the pools see is what many real tenants give them.

Backends: the direct runtime holds at most workers x db_maxconn (8) of
them. PgBouncer keeps a backend per tenant pool it used in the last 60 s
and 1.18 has no cap over all pools, so it needs about one backend per
tenant of the round-robin: a fanout larger than the cluster's free slots
(this machine's PostgreSQL, 100 slots, is shared) is skipped for PgBouncer
and said so, rather than take other clients' slots. A deployment sizes
max_connections for the tenants it keeps warm.

    bench_fanout.py -c CONF -d PLATFORM_DB --runtime-conf TENANT_CONF \\
        --fanout 100 --fanout 500 [--backends 8]
"""

import configparser
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
import click_odoo
import psycopg2
import requests
from psycopg2 import sql

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "scripts"))
sys.path.insert(0, str(REPO_ROOT))

from bench_provision import provision  # noqa: E402

from tests.support import JsonRpc, free_port  # noqa: E402

TARGETS = {100: 1.3, 500: 1.5}  # the issue's: ratio to one tenant's p50
SINGLE_CALLS = 300
MEASURED_PASSES = 2


def admin_connection(env):
    from odoo.tools import config

    conn = psycopg2.connect(
        dbname="postgres",
        user=config["db_user"],
        password=config.get("db_password") or os.environ.get("PGPASSWORD") or None,
        host=config["db_host"] or None,
        port=config["db_port"] or None,
    )
    conn.autocommit = True
    return conn


def free_slots(env):
    """Connection slots of the cluster nobody holds now, less a margin."""
    env.cr.execute(
        """SELECT current_setting('max_connections')::int
                  - current_setting('superuser_reserved_connections')::int
                  - (SELECT count(*) FROM pg_stat_activity)"""
    )
    return env.cr.fetchone()[0] - 10


def make_copies(env, first, count):
    """``count`` tenants copied from ``first``; their codes."""
    from odoo.addons.ipai_tenant_runtime import credentials

    codes = []
    conn = admin_connection(env)
    started = time.monotonic()
    with conn.cursor() as cr:
        for index in range(1, count):
            code = f"{first.code}-{index:04d}"
            tenant = env["ipai.tenant"].create(
                {"code": code, "name": code, "admin_email": f"admin@{first.code}.example"}
            )
            env.cr.commit()
            role, database = tenant.runtime_role, tenant.database_name
            cr.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD %s IN ROLE {}").format(
                    sql.Identifier(role), sql.Identifier(first.runtime_role)
                ),
                [credentials.role_password(role)],
            )
            cr.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(database), sql.Identifier(first.database_name)
                )
            )
            cr.execute(
                sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(
                    sql.Identifier(database)
                )
            )
            cr.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(database), sql.Identifier(role)
                )
            )
            env.cr.execute(
                """UPDATE ipai_tenant SET state = 'active', plan_id = %s, server_id = %s,
                          db_role = NULL WHERE id = %s""",
                [first.plan_id.id, first.server_id.id or None, tenant.id],
            )
            env.cr.commit()
            codes.append(code)
    env.cr.execute("SELECT nextval('ipai_routing_version')")
    env.cr.commit()
    conn.close()
    seconds = time.monotonic() - started
    click.echo(
        f"  {count - 1} copies made in {seconds:.0f} s ({seconds / max(count - 1, 1):.2f} s each)"
    )
    return codes


class Runtime:
    """A tenant runtime (2 workers, no cron) from ``conf``, with ``options``
    added, on a free port; optionally PgBouncer in front of its server."""

    def __init__(self, conf, label, options=(), bouncer_args=None):
        self.label = label
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.conf = Path(tempfile.mkstemp(prefix="ipai-fanout-", suffix=".conf")[1])
        parser = configparser.RawConfigParser()
        parser.read(conf)
        # Only what this setup says: no pooler of the machine's own `make run`.
        parser.remove_option("options", "ipai_db_poolers")
        for key, value in options:
            parser.set("options", key, str(value))
        with self.conf.open("w") as handle:
            parser.write(handle)
        self.bouncer_args = bouncer_args
        self.processes = []

    def start(self):
        logs = REPO_ROOT / ".local" / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        if self.bouncer_args:
            self.processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(REPO_ROOT / "scripts" / "pgbouncer.py"),
                        *self.bouncer_args,
                    ],
                    stdout=open(logs / "bench-fanout-bouncer.log", "wb"),  # noqa: SIM115
                    stderr=subprocess.STDOUT,
                )
            )
            time.sleep(1.5)
        env = {
            key: os.environ[key]
            for key in ("PATH", "HOME", "LANG", "PGHOST", "PGPORT", "IPAI_RUNTIME_SECRET")
            if key in os.environ
        }
        odoo_bin = Path((REPO_ROOT / ".local" / "odoo-src-path").read_text().strip()) / "odoo-bin"
        self.processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(odoo_bin),
                    "-c",
                    str(self.conf),
                    f"--http-port={self.port}",
                    f"--gevent-port={free_port()}",
                    "--workers=2",
                    "--max-cron-threads=0",
                    "--log-level=warn",
                ],
                stdout=open(logs / f"bench-fanout-{self.label}.log", "wb"),  # noqa: SIM115
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/web/health", timeout=5).ok:
                    return self
            except requests.ConnectionError:
                time.sleep(0.3)
        raise RuntimeError(f"the {self.label} runtime did not answer; see .local/logs")

    def stop(self):
        for process in reversed(self.processes):
            if process.poll() is None:
                if process is self.processes[-1]:
                    os.killpg(process.pid, signal.SIGTERM)
                else:
                    process.terminate()
                process.wait(timeout=60)
        self.conf.unlink(missing_ok=True)


def login(runtime, code, database, password, login_name):
    host = f"{code}.localhost"
    return JsonRpc(runtime.url, database, login_name, password, host=host).session


FAILURES = []


def orm_call(runtime, session, attempts=3):
    """The call's milliseconds. On a shared cluster a backend may be refused
    (max_connections reached by others): such a call is tried again, its
    failure counted and printed, and the successful attempt timed."""
    for _attempt in range(attempts - 1):
        try:
            return _timed_call(runtime, session)
        except RuntimeError as error:
            FAILURES.append(str(error)[:120])
            time.sleep(0.5)
    return _timed_call(runtime, session)


def _timed_call(runtime, session):
    started = time.perf_counter()
    response = session.post(
        f"{runtime.url}/web/dataset/call_kw/res.users/search_count",
        json={
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"model": "res.users", "method": "search_count", "args": [[]], "kwargs": {}},
        },
        timeout=60,
    )
    elapsed = time.perf_counter() - started
    if not response.ok or "error" in response.json():
        raise RuntimeError(f"ORM call failed: {response.text[:300]}")
    return elapsed * 1000


def measure(runtime, tenants, fanouts, password, login_name):
    """{"one": p50, N: p50 round-robin over N} in ms, for ``runtime``."""
    started = time.monotonic()
    # Two at a time, one per worker: the logins are setup, not measured.
    with ThreadPoolExecutor(2) as pool:
        sessions = list(
            pool.map(lambda tenant: login(runtime, *tenant, password, login_name), tenants)
        )
    click.echo(f"  {runtime.label}: {len(sessions)} logins in {time.monotonic() - started:.0f} s")
    figures = {}
    for _ in range(20):
        orm_call(runtime, sessions[0])
    figures["one"] = statistics.median(orm_call(runtime, sessions[0]) for _ in range(SINGLE_CALLS))
    for fanout in fanouts:
        chosen = sessions[:fanout]
        for session in chosen:  # warm: each worker meets each tenant once
            orm_call(runtime, session)
        samples = [orm_call(runtime, session) for _ in range(MEASURED_PASSES) for session in chosen]
        figures[fanout] = statistics.median(samples)
        figures[f"p95 {fanout}"] = sorted(samples)[int(len(samples) * 0.95) - 1]
    # Printed at once: a later setup that fails leaves these figures.
    click.echo(
        f"  {runtime.label}: "
        + ", ".join(f"{key}: {value:.1f} ms" for key, value in figures.items())
    )
    return figures


@click.command()
@click_odoo.env_options(with_rollback=False)
@click.option("--runtime-conf", required=True, help="the tenant runtime's Odoo configuration")
@click.option("--fanout", "fanouts", type=int, multiple=True, default=(100, 500))
@click.option("--backends", type=int, default=8, help="PostgreSQL backends of either setup")
@click.option(
    "--registries", type=int, default=0, help="registry_lru_size (0: the runtime's own sizing)"
)
@click.option(
    "--memory-soft-mb",
    type=int,
    default=4096,
    help="limit_memory_soft of both runtimes' workers (the registry cache is sized from it)",
)
def main(env, runtime_conf, fanouts, backends, registries, memory_soft_mb):
    from odoo.tools import config

    fanouts = sorted(fanouts)
    click.echo(f"provisioning the first tenant, then {max(fanouts) - 1} copies")
    first, _job, password, _phases = provision(env, "fan")
    login_name = first.admin_email
    codes = [first.code, *make_copies(env, first, max(fanouts))]
    tenants = [
        (code, env["ipai.tenant"].search([("code", "=", code)]).database_name) for code in codes
    ]
    env.cr.commit()
    server = f"{config['db_host'] or '127.0.0.1'}:{config['db_port'] or 5432}"
    bouncer_port = free_port()
    bouncer_state = tempfile.mkdtemp(prefix="ipai-fanout-pgbouncer-")
    density = [
        ("limit_memory_soft", memory_soft_mb * 1024 * 1024),
        ("limit_memory_hard", (memory_soft_mb + 1024) * 1024 * 1024),
        *([("registry_lru_size", registries)] if registries else []),
    ]
    setups = {
        "direct": Runtime(runtime_conf, "direct", [("db_maxconn", backends // 2), *density]),
        "pgbouncer": Runtime(
            runtime_conf,
            "pgbouncer",
            # Connections to PgBouncer cost no backend: each worker keeps one
            # per tenant it serves instead of reopening them.
            [
                ("db_maxconn", max(fanouts) + 16),
                ("ipai_db_poolers", f"{server}=127.0.0.1:{bouncer_port}"),
                *density,
            ],
            bouncer_args=[
                f"--port={bouncer_port}",
                f"--server={server}",
                f"--platform-db={env.cr.dbname}",
                f"--state-dir={bouncer_state}",
                "--pool-size=1",
                "--platform-pool-size=4",
            ],
        ),
    }
    results = {}
    for label, runtime in setups.items():
        measured = fanouts
        if label == "pgbouncer":
            free = free_slots(env)
            measured = [fanout for fanout in fanouts if fanout + 8 <= free]
            for fanout in sorted(set(fanouts) - set(measured)):
                click.echo(
                    f"  pgbouncer over {fanout} tenants: skipped, needs about {fanout + 8} "
                    f"backends and the cluster has {free} free"
                )
        try:
            results[label] = measure(
                runtime.start(), tenants[: max(measured, default=1)], measured, password, login_name
            )
        finally:
            runtime.stop()
            if label == "pgbouncer":
                shutil.rmtree(bouncer_state, ignore_errors=True)
    report(results, fanouts, backends)
    if FAILURES:
        click.echo(f"{len(FAILURES)} calls failed and were tried again; first: {FAILURES[0]}")


def report(results, fanouts, backends):
    click.echo(
        f"\nOne ORM call (res.users.search_count, JSON-RPC, web session), p50 ms; "
        f"2 workers, {backends} PostgreSQL backends"
    )
    click.echo(
        f"{'':12}{'one tenant':>12}" + "".join(f"{f'{n} tenants':>14}{'ratio':>8}" for n in fanouts)
    )
    for label, figures in results.items():
        row = f"{label:12}{figures['one']:12.1f}"
        for fanout in fanouts:
            if fanout in figures:
                row += f"{figures[fanout]:14.1f}{figures[fanout] / figures['one']:7.2f}x"
            else:
                row += f"{'skipped':>14}{'':8}"
        click.echo(row)
    click.echo(
        "p95 ms: "
        + ", ".join(
            f"{label} {fanout}: {figures[f'p95 {fanout}']:.1f}"
            for label, figures in results.items()
            for fanout in fanouts
            if fanout in figures
        )
    )
    pooled = results["pgbouncer"]
    for fanout in fanouts:
        target = TARGETS.get(fanout)
        if target and fanout not in pooled:
            click.echo(
                f"round-robin over {fanout} tenants <= {target}x one tenant "
                "(through PgBouncer): not measured here: NOT met"
            )
        elif target:
            ratio = pooled[fanout] / pooled["one"]
            verdict = "met" if ratio <= target else "NOT met"
            click.echo(
                f"round-robin over {fanout} tenants <= {target}x one tenant "
                f"(through PgBouncer): {ratio:.2f}x: {verdict}"
            )


if __name__ == "__main__":
    main()
