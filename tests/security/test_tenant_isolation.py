"""Attacks on tenant isolation, made as the attackers would, against the
running stack (control plane + tenant runtime, real PostgreSQL). Each one is
refused and leaves nothing changed.

The main attacker is a tenant's own administrator: every customer of a SaaS
ERP is one, and Odoo lets an administrator run Python (and through it SQL)
in server actions. Its SQL runs as whatever role the runtime serves its
database with.
"""

import os
import re
from contextlib import closing

import psycopg2
import pytest
import requests
from cryptography.fernet import Fernet

from ..support import (
    RUN_ID,
    RUNTIME_ROLE,
    TENANT_DB_PREFIX,
    RpcError,
    admin_password,
    connect_as,
    owner_mark,
    provision,
    query,
    run_code,
    tenant_login,
    wait_for_state,
)

VICTIM_MARK = owner_mark("tenant:sec-victim")
FORGED_MARK = "ipai:" + "0" * 32


@pytest.fixture(scope="module")
def victim(cli):
    provision(cli, "sec-victim")
    return TENANT_DB_PREFIX + "sec-victim"


@pytest.fixture(scope="module")
def attacker(cli, victim, tenant_server, credentials_dir):
    """The administrator of tenant sec-evil, logged in through its own host."""
    provision(cli, "sec-evil")
    return tenant_login(tenant_server, "sec-evil", credentials_dir)


def run_sql(session, statement, autocommit=False):
    """The attacker's SQL, as its own cursor runs it (``autocommit`` for the
    statements PostgreSQL refuses inside a transaction, as an attacker who
    read psycopg2's documentation would)."""
    prelude = "env.cr.commit()\nenv.cr._cnx.set_session(autocommit=True)\n" if autocommit else ""
    return run_code(session, f"{prelude}env.cr.execute({statement!r})\n")


def database_state(name):
    return query(
        "postgres",
        """SELECT datname, datconnlimit, datallowconn,
                  coalesce(shobj_description(oid, 'pg_database'), '')
             FROM pg_database WHERE datname = %s""",
        [name],
    )


def test_tenant_sql_runs_as_the_tenants_own_role(attacker, victim):
    result = run_code(
        attacker,
        "env.cr.execute('SELECT current_user, session_user, "
        "(SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles "
        "WHERE rolname = current_user)')\n"
        "action = {'row': env.cr.fetchone()}",
    )
    user, session_user, privileged = result["row"]
    assert user == session_user == f"{RUN_ID}_r_sec_evil__odoo"
    assert privileged is False


@pytest.mark.parametrize(
    "statement, autocommit",
    [
        (f"CREATE ROLE {RUN_ID}_r_attacker LOGIN SUPERUSER", False),
        (f"CREATE ROLE {RUN_ID}_r_attacker LOGIN", False),
        (f"COMMENT ON DATABASE \"{TENANT_DB_PREFIX}sec-victim\" IS '{FORGED_MARK}'", False),
        (f'ALTER DATABASE "{TENANT_DB_PREFIX}sec-victim" CONNECTION LIMIT 0', False),
        (f'ALTER DATABASE "{TENANT_DB_PREFIX}sec-victim" RENAME TO stolen', True),
        ("GRANT pg_execute_server_program TO CURRENT_USER", False),
        ("GRANT pg_read_server_files TO CURRENT_USER", False),
        (f'DROP DATABASE "{TENANT_DB_PREFIX}sec-victim"', True),
    ],
)
def test_tenant_admin_sql_cannot_touch_the_cluster(attacker, victim, statement, autocommit):
    before_db = database_state(victim)
    before_roles = query("postgres", "SELECT rolname FROM pg_roles ORDER BY 1")
    with pytest.raises(
        RpcError, match=r"(?i)permission denied|must be owner|must have|must be superuser"
    ):
        run_sql(attacker, statement, autocommit=autocommit)
    assert database_state(victim) == before_db
    assert before_db[0][3] == VICTIM_MARK
    assert query("postgres", "SELECT rolname FROM pg_roles ORDER BY 1") == before_roles
    role = f"{RUN_ID}_r_sec_evil__odoo"
    assert query(
        "postgres",
        "SELECT pg_has_role(%s, 'pg_execute_server_program', 'MEMBER'),"
        "       pg_has_role(%s, 'pg_read_server_files', 'MEMBER')",
        [role, role],
    ) == [(False, False)]


def test_tenant_role_may_connect_to_its_own_database_only(attacker, victim):
    result = run_code(
        attacker,
        'env.cr.execute("SELECT datname FROM pg_database '
        "WHERE has_database_privilege(datname, 'CONNECT') ORDER BY 1\")\n"
        "action = {'rows': env.cr.fetchall()}",
    )
    assert result["rows"] == [[TENANT_DB_PREFIX + "sec-evil"]]


def test_database_comments_name_no_tenant(attacker, victim):
    """Every role reads every database's comment: the platform's marks are
    keyed HMACs, which name no tenant and cannot be made for another."""
    result = run_code(
        attacker,
        "env.cr.execute(\"SELECT shobj_description(oid, 'pg_database') FROM pg_database "
        "WHERE shobj_description(oid, 'pg_database') LIKE 'ipai:%%'\")\n"
        "action = {'rows': [row[0] for row in env.cr.fetchall()]}",
    )
    marks = result["rows"]
    assert VICTIM_MARK in marks
    assert all(re.fullmatch(r"ipai:[0-9a-f]{32}", mark) for mark in marks), marks
    assert not any("sec-" in mark or "tenant" in mark for mark in marks)


def all_databases():
    return [row[0] for row in query("postgres", "SELECT datname FROM pg_database ORDER BY 1")]


def connects(database, role, password):
    try:
        connect_as(database, role, password).close()
        return True
    except psycopg2.OperationalError:
        return False


def test_every_tenant_role_reaches_its_own_database_only(attacker, victim, platform_db):
    """The BI role (Superset's) and the runtime role of every tenant, against
    every database of the cluster."""
    key = Fernet(os.environ["IPAI_ENCRYPTION_KEY"])
    tenants = query(
        platform_db,
        """SELECT t.database_name, t.db_role, t.runtime_role, s.token
             FROM ipai_tenant t
             JOIN ipai_tenant_secret s ON s.tenant_id = t.id AND s.kind = 'db_role_password'
            WHERE t.state = 'active'""",
    )
    assert len(tenants) >= 2
    from odoo.addons.ipai_tenant_runtime import credentials

    databases = all_databases()
    for own, bi_role, runtime_role, token in tenants:
        for role, password in (
            (bi_role, key.decrypt(token.encode()).decode()),
            (runtime_role, credentials.role_password(runtime_role)),
        ):
            reachable = [db for db in databases if connects(db, role, password)]
            assert reachable == [own], (role, reachable)
            with (
                closing(connect_as(own, role, password)) as conn,
                conn.cursor() as cr,
            ):
                cr.execute(
                    "SELECT datname FROM pg_database "
                    "WHERE has_database_privilege(datname, 'CONNECT')"
                )
                assert [row[0] for row in cr.fetchall()] == [own], role
                cr.execute("SELECT has_schema_privilege('public', 'CREATE')")
                assert cr.fetchone()[0] is (role == runtime_role), role


def test_the_routing_role_reads_the_routing_view_and_nothing_else(platform_db):
    from odoo.addons.ipai_tenant_runtime import credentials

    password = credentials.role_password(RUNTIME_ROLE)
    # Other runs' databases are open to PUBLIC for a moment while they are
    # made: not this platform's to close.
    run_id = os.environ.get("IPAI_TEST_RUN_ID", "")
    databases = [
        db for db in all_databases() if not db.startswith("ipai_test_") or db.startswith(run_id)
    ]
    reachable = [db for db in databases if connects(db, RUNTIME_ROLE, password)]
    # The platform databases of the cluster (the test run's unit database is
    # one too) and nothing else.
    assert platform_db in reachable
    for database in reachable:
        assert query(database, "SELECT to_regclass('ipai_cell_routing') IS NOT NULL") == [
            (True,)
        ], database
    with closing(connect_as(platform_db, RUNTIME_ROLE, password)) as conn:
        conn.autocommit = True
        with conn.cursor() as cr:
            cr.execute("SELECT count(*) FROM ipai_cell_routing")
            assert cr.fetchone()[0] >= 1
            for table in (
                "ipai_tenant",
                "ipai_tenant_secret",
                "res_users",
                "ir_config_parameter",
                "ipai_tenant_routing",  # every cell's routes: the control plane's
                "ipai_tenant_cell",
            ):
                with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                    cr.execute(f"SELECT 1 FROM {table} LIMIT 1")


def test_tenant_runtime_holds_no_platform_secret(tenant_server):
    secrets_ = [
        os.environ[name]
        for name in ("IPAI_ENCRYPTION_KEY", "IPAI_DB_PASSWORD", "IPAI_MASTER_PASSWORD")
        if os.environ.get(name)
    ]
    pids = [tenant_server.process.pid]
    children = f"/proc/{tenant_server.process.pid}/task/{tenant_server.process.pid}/children"
    if os.path.exists(children):
        with open(children) as handle:
            pids += [int(pid) for pid in handle.read().split()]
    for pid in pids:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environment = handle.read().decode(errors="replace")
        # Its cell's secret, never the master that derives every cell's.
        assert "IPAI_CELL_SECRET=" in environment
        assert "IPAI_RUNTIME_SECRET=" not in environment
        assert os.environ["IPAI_RUNTIME_SECRET"] not in environment
        for secret in secrets_:
            assert secret not in environment
    config = tenant_server.log_path.with_suffix(".conf").read_text()
    assert f"db_user = {RUNTIME_ROLE}\n" in config and "admin_passwd" not in config


# ------------------------------------------------------------------- RPC


def jsonrpc(server, host, service, method, *args):
    response = requests.post(
        f"{server.url}/jsonrpc",
        json={
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": list(args)},
        },
        headers={"Host": host},
        timeout=30,
    )
    if response.headers.get("Content-Type", "").startswith("application/json"):
        payload = response.json()
        return payload.get("result"), payload.get("error")
    return None, {"status": response.status_code}  # e.g. 404 Unknown tenant


def test_rpc_naming_another_database_is_refused_on_every_host(
    attacker, victim, tenant_server, platform_server, platform_db, credentials_dir
):
    victim_login = ("admin@sec-victim.example", admin_password(credentials_dir, "sec-victim"))
    attempts = [
        (tenant_server, "sec-evil.localhost", victim),
        (tenant_server, "sec-evil.localhost", platform_db),
        (tenant_server, "nobody.localhost", victim),
        (platform_server, "127.0.0.1", victim),
    ]
    for server, host, database in attempts:
        result, error = jsonrpc(server, host, "common", "login", database, *victim_login)
        assert error and not result, (host, database)
        result, error = jsonrpc(
            server,
            host,
            "object",
            "execute_kw",
            database,
            2,
            victim_login[1],
            "res.partner",
            "search_count",
            [[]],
        )
        assert error and not result, (host, database)
        response = requests.post(
            f"{server.url}/web/session/authenticate",
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "params": {"db": database, "login": victim_login[0], "password": victim_login[1]},
            },
            headers={"Host": host},
            timeout=30,
        )
        assert response.status_code == 404 or "error" in response.json(), (host, database)
    # The victim's own host still works with the same credentials.
    result, error = jsonrpc(
        tenant_server, "sec-victim.localhost", "common", "login", victim, *victim_login
    )
    assert result and not error
    # The control plane serves no tenant, the runtime not the platform.
    assert (
        requests.get(
            f"{platform_server.url}/web/login", headers={"Host": "sec-victim.localhost"}, timeout=30
        ).status_code
        == 404
    )
    assert (
        requests.get(
            f"{tenant_server.url}/web/login", headers={"Host": "127.0.0.1"}, timeout=30
        ).status_code
        == 404
    )


# ----------------------------------------------------------------- gates


def test_module_outside_the_plan_cannot_be_installed(attacker):
    (crm,) = attacker.call("ir.module.module", "search_read", [("name", "=", "crm")], ["state"])
    assert crm["state"] == "uninstalled"
    with pytest.raises(RpcError, match=r"plan Trial does not include"):
        attacker.call("ir.module.module", "button_immediate_install", [crm["id"]])
    # Marked by hand, then installed by an upgrade: refused the same way.
    attacker.call("ir.module.module", "write", [crm["id"]], {"state": "to install"})
    (base,) = attacker.call("ir.module.module", "search", [("name", "=", "base")])
    with pytest.raises(RpcError, match=r"plan Trial does not include"):
        attacker.call("ir.module.module", "button_immediate_upgrade", [base])
    attacker.call("ir.module.module", "write", [crm["id"]], {"state": "uninstalled"})
    assert attacker.call("ir.module.module", "read", [crm["id"]], ["state"])[0]["state"] == (
        "uninstalled"
    )


def test_limits_hold_after_the_admin_rewrites_its_parameters(attacker):
    attacker.call("ir.config_parameter", "set_param", "ipai_tenant.limits", '{"users": 1000}')
    attacker.call("ir.config_parameter", "set_param", "ipai_tenant.plan_name", "Unlimited")
    group = attacker.call("ir.model.data", "check_object_reference", "base", "group_user")[1]
    made = []
    with pytest.raises(RpcError, match=r"plan Trial allows 3 internal users"):
        for index in range(5):
            made.append(
                attacker.call(
                    "res.users",
                    "create",
                    {
                        "name": f"u{index}",
                        "login": f"u{index}@sec-evil.example",
                        "groups_id": [(6, 0, [group])],
                    },
                )
            )
    assert len(made) == 2  # admin + 2 = the trial plan's 3
    with pytest.raises(RpcError, match=r"plan Trial allows 1 companies"):
        attacker.call("res.company", "create", {"name": "Second Co"})


def test_suspension_holds_after_the_admin_removed_the_client_addon(
    attacker, cli, platform_db, tenant_server, credentials_dir
):
    (client,) = attacker.call("ir.module.module", "search", [("name", "=", "ipai_tenant_client")])
    attacker.call("ir.module.module", "button_immediate_uninstall", [client])
    assert attacker.call("ir.module.module", "read", [client], ["state"])[0]["state"] == (
        "uninstalled"
    )
    assert cli("suspend", "--code", "sec-evil").returncode == 0
    wait_for_state(platform_db, "sec-evil", "suspended")
    try:
        host = {"Host": "sec-evil.localhost"}
        page = requests.get(f"{tenant_server.url}/odoo", headers=host, timeout=30)
        assert page.status_code == 503 and "suspended" in page.text
        with pytest.raises(RpcError, match="suspended"):
            attacker.call("res.partner", "search_count", [])
        with pytest.raises(RpcError, match="suspended"):
            tenant_login(tenant_server, "sec-evil", credentials_dir)
        # The parameter its admin could still rewrite changes nothing.
        query(
            TENANT_DB_PREFIX + "sec-evil",
            "UPDATE ir_config_parameter SET value = 'active' WHERE key = 'ipai_tenant.state'",
        )
        assert (
            requests.get(f"{tenant_server.url}/odoo", headers=host, timeout=30).status_code == 503
        )
    finally:
        assert cli("reactivate", "--code", "sec-evil").returncode == 0
        wait_for_state(platform_db, "sec-evil", "active")
