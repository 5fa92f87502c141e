"""The tenant runtime through PgBouncer (scripts/pgbouncer.py), on real
processes: tenants log in, write and run their crons through it, the job
path still provisions, and PgBouncer opens no way from one tenant's role to
another tenant's database, nor to any role it does not list."""

import time

import psycopg2
import pytest
import requests

from .conftest import TENANT_DB_PREFIX
from .support import (
    LOCAL_DIR,
    RUNTIME_ROLE,
    PgBouncer,
    connect_as,
    pg_connect,
    provision,
    query,
    role_password,
    route_tenants_to,
    tenant_login,
    tenant_runtime,
)

FIRST, SECOND = "bouncer-a", "bouncer-b"


@pytest.fixture(scope="module")
def bouncer(platform_db):
    server = PgBouncer(platform_db, LOCAL_DIR / "logs" / f"{platform_db}-pgbouncer.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pooled_runtime(platform_db, bouncer, tenant_server):
    """A node of the tenant runtime that opens every database through
    PgBouncer; the control plane's smoke checks reach it."""
    server = tenant_runtime(
        platform_db,
        "pooled",
        options={"ipai_db_poolers": bouncer.poolers_option},
    ).start()
    route_tenants_to(platform_db, server)
    yield server
    server.stop()
    # The session's runtime answers the smoke checks again.
    route_tenants_to(platform_db, tenant_server)


@pytest.fixture(scope="module")
def tenants(cli, pooled_runtime):
    """Provisioned by the job runner, as every tenant is."""
    for code in (FIRST, SECOND):
        provision(cli, code)
    return FIRST, SECOND


def _role(platform_db, code):
    """The role the runtime opens the tenant's database with."""
    return query(platform_db, "SELECT runtime_role FROM ipai_tenant WHERE code = %s", [code])[0][0]


def _through(bouncer, database, role, password):
    return connect_as(database, role, password, host="127.0.0.1", port=bouncer.port)


def test_the_runtime_opens_tenant_databases_through_pgbouncer(
    tenants, pooled_runtime, bouncer, platform_db, credentials_dir
):
    rpc = tenant_login(pooled_runtime, FIRST, credentials_dir)
    partner_id = rpc.call("res.partner", "create", {"name": "Written through PgBouncer"})
    [(name,)] = query(
        TENANT_DB_PREFIX + FIRST, "SELECT name FROM res_partner WHERE id = %s", [partner_id]
    )
    assert name == "Written through PgBouncer"
    role = _role(platform_db, FIRST)
    with (
        _through(bouncer, TENANT_DB_PREFIX + FIRST, role, role_password(role)) as conn,
        conn.cursor() as cr,
    ):
        cr.execute("SELECT count(*) FROM res_partner WHERE id = %s", [partner_id])
        assert cr.fetchone() == (1,)
    conn.close()


def test_a_tenants_cron_runs_through_pgbouncer(tenants, pooled_runtime, platform_db):
    """The pooled node's cron worker takes jobs: it listens on the platform
    database (session mode) and runs them in the tenant's database
    (transaction mode). The session's own runtime races it for each due job,
    so every job of the tenant is made due, again, until the pooled node has
    run some."""
    database = TENANT_DB_PREFIX + SECOND

    def ran_on_the_pooled_node():
        return any(
            f" {database} " in line and ") completed" in line
            for line in pooled_runtime.log_path.read_text().splitlines()
        )

    deadline = time.monotonic() + 120
    while not ran_on_the_pooled_node():
        assert time.monotonic() < deadline, "the pooled node never ran a cron of the tenant"
        query(database, "UPDATE ir_cron SET nextcall = now() at time zone 'UTC' WHERE active")
        with pg_connect(platform_db) as conn, conn.cursor() as cr:
            cr.execute("NOTIFY cron_trigger, %s", [database])
        conn.close()
        time.sleep(3)


def test_a_tenants_role_reaches_no_other_database_through_pgbouncer(tenants, bouncer, platform_db):
    """The attacker holds tenant A's role and password (SQL or code run in
    A's database could learn both) and asks PgBouncer for anything else."""
    role = _role(platform_db, FIRST)
    password = role_password(role)
    for database in (TENANT_DB_PREFIX + SECOND, platform_db, "postgres", "ipai_sessions"):
        with pytest.raises(psycopg2.OperationalError, match=r"permission denied|does not exist"):
            _through(bouncer, database, role, password)
    # Nor with the other tenant's role and a guessed or empty password.
    other = _role(platform_db, SECOND)
    for guess in ("", password, "postgres"):
        with pytest.raises(psycopg2.OperationalError, match=r"authentication failed|no password"):
            _through(bouncer, TENANT_DB_PREFIX + SECOND, other, guess)
    # The other tenant is still served through its own pool.
    with (
        _through(bouncer, TENANT_DB_PREFIX + SECOND, other, role_password(other)) as conn,
        conn.cursor() as cr,
    ):
        cr.execute("SELECT current_user")
        assert cr.fetchone() == (other,)
    conn.close()


def test_pgbouncer_admits_no_role_outside_its_list(tenants, bouncer, platform_db):
    """The database server here trusts every local connection; PgBouncer
    does not: the control plane's role and a superuser are not in its list,
    and its admin console has no user at all."""
    for role in ("ipai", "postgres"):
        with pytest.raises(psycopg2.OperationalError, match=r"no password|authentication failed"):
            _through(bouncer, platform_db, role, "")
        with pytest.raises(psycopg2.OperationalError, match="authentication failed"):
            _through(bouncer, platform_db, role, "anything")
    role = _role(platform_db, FIRST)
    for console_user, password in (
        (role, role_password(role)),
        (RUNTIME_ROLE, role_password(RUNTIME_ROLE)),
    ):
        with pytest.raises(psycopg2.OperationalError, match="not allowed"):
            _through(bouncer, "pgbouncer", console_user, password)


def test_backends_are_never_shared_between_tenants(tenants, bouncer, platform_db):
    """Transaction pooling hands a backend to the next client of the same
    role and database only: what one tenant leaves in a backend (a session
    setting) never reaches another tenant."""
    backends = {}
    for code in (FIRST, SECOND):
        role = _role(platform_db, code)
        backends[code] = set()
        for _ in range(4):
            conn = _through(bouncer, TENANT_DB_PREFIX + code, role, role_password(role))
            conn.autocommit = True
            with conn.cursor() as cr:
                cr.execute("SET work_mem TO '7MB'")
                cr.execute("SELECT pg_backend_pid(), current_user, current_database()")
                pid, user, database = cr.fetchone()
            conn.close()
            assert (user, database) == (role, TENANT_DB_PREFIX + code)
            backends[code].add(pid)
    assert not backends[FIRST] & backends[SECOND]


def test_a_newly_provisioned_tenant_is_admitted_within_seconds(
    tenants, cli, pooled_runtime, credentials_dir
):
    """The user list follows the routing view: a tenant provisioned after
    PgBouncer started logs in through it."""
    code = "bouncer-new"
    provision(cli, code)
    deadline = time.monotonic() + 5
    while True:
        try:
            rpc = tenant_login(pooled_runtime, code, credentials_dir)
            break
        except requests.HTTPError:
            # Routed before PgBouncer reloaded its list: "Unknown tenant".
            assert time.monotonic() < deadline, "PgBouncer never admitted the new tenant"
            time.sleep(0.2)
    assert rpc.call("res.users", "search_count", [])
