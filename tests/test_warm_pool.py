"""The warm pool end to end: ready databases made ahead of time by the
refill command (as the cron does), claimed by signups through the
operator's command line, served by the real tenant runtime."""

import os
import time
import xmlrpc.client
from pathlib import Path

import pytest
import requests

from .support import (
    FILESTORE,
    REPO_ROOT,
    TENANT_DB_PREFIX,
    JsonRpc,
    RpcError,
    admin_password,
    database_exists,
    owner_mark,
    paused_cron,
    provision,
    query,
    tenant_row,
)


def pool_members(platform_db, state="ready"):
    return query(
        platform_db,
        "SELECT database_name, role_name FROM ipai_tenant_pool_member WHERE state = %s",
        [state],
    )


def refill(cli, size):
    result = cli("refill-pool", "--plan", "trial", "--size", str(size))
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def steps_of(platform_db, code):
    rows = query(
        platform_db,
        """SELECT s.name FROM ipai_tenant_job_step s
             JOIN ipai_tenant_job j ON j.id = s.job_id
             JOIN ipai_tenant t ON t.id = j.tenant_id
            WHERE t.code = %s AND j.job_type = 'create' ORDER BY s.sequence""",
        [code],
    )
    return [name for (name,) in rows]


@pytest.fixture(scope="module")
def trial_pool(cli, platform_db):
    """Two ready members of the trial plan (the template is built by a first
    ordinary signup: the pool never builds templates)."""
    with paused_cron(platform_db, "ir_cron_refill_pool"):
        provision(cli, "pool-seed")
        refill(cli, 2)
        assert len(pool_members(platform_db)) == 2
        yield
        refill(cli, 0)
        assert not pool_members(platform_db)


def identity(database):
    return dict(
        query(
            database,
            "SELECT key, value FROM ir_config_parameter "
            "WHERE key IN ('database.uuid', 'database.secret', 'web.base.url')",
        )
    )


def owner_of_res_users(database):
    return query(
        database,
        "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'res_users'",
    )[0][0]


def test_ready_members_are_never_routed_nor_listed(trial_pool, cli, platform_db):
    members = pool_members(platform_db)
    names = [database for database, _role in members]
    # The runtime learns of them without a host name: nothing routes to them.
    routes = query(
        platform_db,
        "SELECT host, state FROM ipai_tenant_routing WHERE database_name = ANY(%s)",
        [names],
    )
    assert sorted(routes) == [(None, "pool")] * len(names)
    tenants = "SELECT 1 FROM ipai_tenant WHERE database_name = ANY(%s)"
    assert not query(platform_db, tenants, [names])
    listed = cli("list")
    assert all(name not in listed.stdout for name in names)
    status = cli("pool-status")
    assert status.returncode == 0 and " 2 " in status.stdout, status.stdout


def test_the_tenant_runtime_loads_ready_members_ahead(trial_pool, tenant_server, platform_db):
    """Idle workers of the tenant runtime load a ready member's registry, so
    the signup that takes it does not wait for one."""
    log = tenant_server.log_path
    deadline = time.monotonic() + 60
    names = [database for database, _role in pool_members(platform_db)]
    while not all(f"preload: {name} loaded" in log.read_text() for name in names):
        assert time.monotonic() < deadline, "no worker preloaded the pool's registries"
        time.sleep(0.5)


def test_two_signups_get_distinct_databases_from_the_pool(
    trial_pool, cli, platform_db, tenant_server, credentials_dir
):
    members = pool_members(platform_db)
    provision(cli, "pool-a")
    provision(cli, "pool-b")
    rows = {
        code: (database, role)
        for code, database, role in query(
            platform_db,
            "SELECT code, database_name, runtime_role FROM ipai_tenant WHERE code LIKE 'pool-_'",
        )
    }
    for code in ("pool-a", "pool-b"):
        assert steps_of(platform_db, code)[0] == "adopt_pool_member"
        assert tenant_row(platform_db, code)[0] == "active"
    # Each took one member, keeping its database and role names.
    assert sorted(rows.values()) == sorted(members)
    assert not pool_members(platform_db, "claimed")
    (db_a, role_a), (db_b, role_b) = rows["pool-a"], rows["pool-b"]
    # Each its own identity, its own role owning its objects, its own URL.
    id_a, id_b = identity(db_a), identity(db_b)
    assert id_a["database.uuid"] != id_b["database.uuid"]
    assert id_a["database.secret"] != id_b["database.secret"]
    assert id_a["web.base.url"].startswith("http://pool-a.localhost")
    assert owner_of_res_users(db_a) == role_a
    assert owner_of_res_users(db_b) == role_b
    assert query(
        "postgres",
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
        [db_a],
    ) == [(owner_mark("tenant:pool-a"),)]
    # Its own administrator password, and its own filestore.
    assert admin_password(credentials_dir, "pool-a") != admin_password(credentials_dir, "pool-b")
    store_a, store_b = Path(FILESTORE) / db_a, Path(FILESTORE) / db_b
    assert store_a.is_dir() and store_b.is_dir()
    (store_a / "only-in-a").write_text("a")
    assert not (store_b / "only-in-a").exists()
    for code, (database, _role) in rows.items():
        session = JsonRpc(
            tenant_server.url,
            database,
            f"admin@{code}.example",
            admin_password(credentials_dir, code),
            host=f"{code}.localhost",
        )
        assert session.uid
        [user] = session.call("res.users", "read", [session.uid], ["login", "name"])
        assert user["login"] == f"admin@{code}.example"
        assert user["name"] == code


def xmlrpc_call(server, host, service, method, *params):
    """One XML-RPC call as a client library makes it, through ``host``."""
    response = requests.post(
        f"{server.url}/xmlrpc/2/{service}",
        data=xmlrpc.client.dumps(params, method),
        headers={"Host": host, "Content-Type": "text/xml"},
        timeout=60,
    )
    response.raise_for_status()
    return xmlrpc.client.loads(response.content)[0][0]


def test_a_pooled_tenant_answers_to_its_documented_name(
    trial_pool, platform_db, tenant_server, credentials_dir
):
    """pool-a's database keeps the pool's name; clients name it by the
    documented one (<prefix><code>), over JSON-RPC and XML-RPC alike. The
    name reaches only the host's own tenant: pool-b's host with pool-a's
    name is refused, and nothing is read."""
    [(stored,)] = query(platform_db, "SELECT database_name FROM ipai_tenant WHERE code = 'pool-a'")
    documented = TENANT_DB_PREFIX + "pool-a"
    assert stored != documented
    login, password = "admin@pool-a.example", admin_password(credentials_dir, "pool-a")
    session = JsonRpc(tenant_server.url, documented, login, password, host="pool-a.localhost")
    assert session.uid and session.db == stored
    assert session.call("res.users", "search_count", [("login", "=", login)]) == 1
    uid = xmlrpc_call(
        tenant_server, "pool-a.localhost", "common", "authenticate", documented, login, password, {}
    )
    assert uid == session.uid
    assert (
        xmlrpc_call(
            tenant_server,
            "pool-a.localhost",
            "object",
            "execute_kw",
            documented,
            uid,
            password,
            "res.users",
            "search_count",
            [[["login", "=", login]]],
        )
        == 1
    )
    # Another tenant's host: neither name of pool-a reaches it.
    for name in (documented, stored):
        with pytest.raises(xmlrpc.client.Fault, match="no such database"):
            xmlrpc_call(
                tenant_server,
                "pool-b.localhost",
                "common",
                "authenticate",
                name,
                login,
                password,
                {},
            )
        with pytest.raises(RpcError):
            JsonRpc(tenant_server.url, name, login, password, host="pool-b.localhost")


def test_a_cancelled_signup_gives_its_member_back(trial_pool, cli, admin_rpc, platform_db):
    refill(cli, 2)
    members = sorted(pool_members(platform_db))
    assert len(members) == 2
    with paused_cron(platform_db, "ir_cron_run_tenant_jobs"):
        tenant_id = admin_rpc.call("ipai.tenant", "create", {"code": "pool-cancel", "name": "C"})
        admin_rpc.call("ipai.tenant", "action_provision", [tenant_id])
        [(database, job_id)] = query(
            platform_db,
            "SELECT t.database_name, j.id FROM ipai_tenant t "
            "JOIN ipai_tenant_job j ON j.tenant_id = t.id WHERE t.code = 'pool-cancel'",
        )
        assert database in [name for name, _role in members]
        assert len(pool_members(platform_db)) == len(members) - 1
        admin_rpc.call("ipai.tenant.job", "action_cancel", [job_id])
    assert sorted(pool_members(platform_db)) == members
    state, database, _db_role = tenant_row(platform_db, "pool-cancel")
    assert state == "draft" and "_pool_" not in database


def test_an_empty_pool_falls_back_to_the_template(trial_pool, cli, platform_db):
    while pool_members(platform_db):
        code = f"pool-drain-{len(pool_members(platform_db))}"
        provision(cli, code)
    provision(cli, "pool-dry")
    assert steps_of(platform_db, "pool-dry")[1] == "ensure_template"
    assert tenant_row(platform_db, "pool-dry")[0] == "active"
    refill(cli, 2)  # refilled for the next test
    assert len(pool_members(platform_db)) == 2


def test_an_addon_change_retires_stale_members(trial_pool, cli, platform_db):
    members = pool_members(platform_db)
    assert members
    marker = REPO_ROOT / "addons" / "ipai_tenant_client" / "static" / "ipai-test-marker.txt"
    marker.write_text("a changed addon makes a new template version\n")
    try:
        output = refill(cli, 2)
        assert "0/2 ready" in output, output
        assert not pool_members(platform_db)
        assert not any(database_exists(database) for database, _role in members)
    finally:
        os.unlink(marker)
    refill(cli, 2)  # the old version is current again, and its template ready
    assert len(pool_members(platform_db)) == 2
