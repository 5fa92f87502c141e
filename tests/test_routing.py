"""Both runtimes route by host name only: the control plane serves the
platform hosts, the tenant runtime every tenant's, and neither the other's."""

import time

import pytest
import requests

from .conftest import TENANT_DB_PREFIX
from .support import (
    JsonRpc,
    RpcError,
    admin_password,
    pg_connect,
    provision,
    query,
    tenant_login,
    tenant_runtime,
    wait_for_state,
)


def get(server, host, path="/web/login", **kwargs):
    headers = {"Host": host, **kwargs.pop("headers", {})}
    return requests.get(f"{server.url}{path}", headers=headers, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def routed(cli, platform_db):
    for code in ("route-a", "route-b"):
        provision(cli, code)
    return ("route-a", "route-b")


def session_db(server, host, cookies=None, headers=None):
    response = requests.post(
        f"{server.url}/web/session/get_session_info",
        json={"jsonrpc": "2.0", "method": "call", "params": {}},
        headers={"Host": host, **(headers or {})},
        cookies=cookies,
        timeout=30,
    )
    return response.json().get("result", {}).get("db")


def test_each_host_reaches_its_own_database(
    routed, tenant_server, platform_server, credentials_dir, platform_db
):
    a = tenant_login(tenant_server, "route-a", credentials_dir)
    b = tenant_login(tenant_server, "route-b", credentials_dir)
    assert a.call("res.users", "read", [a.uid], ["login"])[0]["login"] == "admin@route-a.example"
    assert b.call("res.users", "read", [b.uid], ["login"])[0]["login"] == "admin@route-b.example"
    assert session_db(tenant_server, "route-a.localhost", cookies=a.session.cookies) == (
        TENANT_DB_PREFIX + "route-a"
    )
    platform = requests.get(f"{platform_server.url}/web/login", timeout=30)
    assert platform.status_code == 200


def test_a_host_cannot_be_used_to_reach_another_database(routed, tenant_server, credentials_dir):
    # Tenant B's credentials and database name, sent to tenant A's host.
    with pytest.raises(RpcError):
        JsonRpc(
            tenant_server.url,
            TENANT_DB_PREFIX + "route-b",
            "admin@route-b.example",
            admin_password(credentials_dir, "route-b"),
            host="route-a.localhost",
        )
    # A header naming B's database is ignored on A's host.
    forced = session_db(
        tenant_server,
        "route-a.localhost",
        headers={"X-Odoo-Database": TENANT_DB_PREFIX + "route-b"},
    )
    assert forced in (None, TENANT_DB_PREFIX + "route-a")
    # A's session cookie is worthless on B's host.
    a = tenant_login(tenant_server, "route-a", credentials_dir)
    assert session_db(tenant_server, "route-b.localhost", cookies=a.session.cookies) in (
        None,
        TENANT_DB_PREFIX + "route-b",
    )
    response = a.session.post(
        f"{tenant_server.url}/web/dataset/call_kw/res.partner/search_count",
        json={
            "jsonrpc": "2.0",
            "method": "call",
            "params": {
                "model": "res.partner",
                "method": "search_count",
                "args": [[]],
                "kwargs": {},
            },
        },
        headers={"Host": "route-b.localhost"},
        timeout=30,
    ).json()
    assert "error" in response


def test_unknown_hosts_and_templates_reach_nothing(
    routed, tenant_server, platform_server, platform_db
):
    template = query(platform_db, "SELECT database_name FROM ipai_tenant_template LIMIT 1")[0][0]
    for server in (tenant_server, platform_server):
        for host in ("nobody.localhost", f"{template}.localhost", "evil.example.com"):
            response = get(server, host)
            assert response.status_code == 404, host
            assert "Unknown tenant" in response.text
    # Each runtime serves only its own side.
    assert get(platform_server, "route-a.localhost").status_code == 404
    assert get(tenant_server, "127.0.0.1").status_code == 404


def test_database_manager_is_never_served(routed, tenant_server, platform_server):
    for server in (tenant_server, platform_server):
        for host in ("route-a.localhost", "127.0.0.1", "nobody.localhost"):
            for path in ("/web/database/manager", "/web/database/selector"):
                assert get(server, host, path).status_code == 404, (host, path)


def test_new_tenant_and_custom_domain_are_routed_without_restart(
    cli, routed, tenant_server, admin_rpc, credentials_dir, dns_server
):
    provision(cli, "route-new")
    wait_for_status(tenant_server, "route-new.localhost", 200)
    tenant_id = admin_rpc.call("ipai.tenant", "search", [("code", "=", "route-a")])[0]
    professional = admin_rpc.call("ipai.tenant.plan", "search", [("code", "=", "professional")])
    admin_rpc.call("ipai.tenant", "write", [tenant_id], {"plan_id": professional[0]})
    domain_id = admin_rpc.call(
        "ipai.tenant.domain", "create", {"name": "ERP.Route-A.test.", "tenant_id": tenant_id}
    )
    (domain,) = admin_rpc.call(
        "ipai.tenant.domain", "read", [domain_id], ["name", "verification_token", "verified"]
    )
    assert domain["name"] == "erp.route-a.test" and not domain["verified"]
    # Not routed before its ownership is proven...
    wait_for_status(tenant_server, "erp.route-a.test", 404)
    with pytest.raises(RpcError, match="No DNS record proves"):
        admin_rpc.call("ipai.tenant.domain", "action_verify", [domain_id])
    # ...then routed once the TXT record is there.
    dns_server.publish_txt(
        "_ipai-verify.erp.route-a.test", f"ipai-verify={domain['verification_token']}"
    )
    admin_rpc.call("ipai.tenant.domain", "action_verify", [domain_id])
    wait_for_status(tenant_server, "erp.route-a.test", 200)
    assert session_db(tenant_server, "erp.route-a.test") in (None, TENANT_DB_PREFIX + "route-a")


# Each worker rereads the routing map at most once a second: a change is
# settled once every worker answers the same for longer than that.
SETTLED_SECONDS = 1.5


def wait_for_status(server, host, status, seconds=15):
    deadline = time.monotonic() + seconds
    settled_since = None
    while True:
        code = get(server, host).status_code
        now = time.monotonic()
        settled_since = (settled_since or now) if code == status else None
        if settled_since is not None and now - settled_since >= SETTLED_SECONDS:
            return
        assert now < deadline, f"{host}: HTTP {code}, expected {status}"
        time.sleep(0.1)


def test_platform_host_names_apply_without_restart(routed, platform_server, admin_rpc):
    key, host = "ipai_tenant_core.platform_hosts", "platform.route.test"
    assert get(platform_server, host).status_code == 404
    admin_rpc.call("ir.config_parameter", "set_param", key, f"localhost,127.0.0.1,{host}")
    try:
        wait_for_status(platform_server, host, 200)
        assert "Unknown tenant" not in get(platform_server, host).text
    finally:
        # Unset: the parameter goes, and the host name with it.
        admin_rpc.call("ir.config_parameter", "set_param", key, False)
    wait_for_status(platform_server, host, 404)
    assert get(platform_server, "127.0.0.1").status_code == 200


def test_dropped_tenant_is_no_longer_routed(cli, tenant_server, platform_db):
    provision(cli, "route-gone")
    assert cli("drop", "--code", "route-gone").returncode == 0
    wait_for_state(platform_db, "route-gone", "archived")
    time.sleep(1.5)
    assert get(tenant_server, "route-gone.localhost").status_code == 404


@pytest.fixture(scope="module")
def threaded_server(platform_db):
    """The tenant runtime in threaded mode, where Odoo itself only runs the
    crons of databases whose registry a request happened to load."""
    server = tenant_runtime(platform_db, "threaded", workers=0).start()
    yield server
    server.stop()


@pytest.mark.parametrize("mode", ["prefork", "threaded"])
def test_cron_runs_in_tenant_databases_nobody_visited(
    mode, cli, tenant_server, platform_db, request
):
    code = f"route-quiet-{mode}"
    database = TENANT_DB_PREFIX + code
    if mode == "threaded":
        threaded = request.getfixturevalue("threaded_server")
        provision(cli, code)
        # Nobody sends this database a request: the keeper must load its
        # registry, which is what makes Odoo's threaded cron loop visit it.
        deadline = time.monotonic() + 60
        evidence = f"registry keeper: loaded {database} so that its crons run"
        while evidence not in threaded.log_path.read_text():
            assert time.monotonic() < deadline, "threaded mode never loaded the tenant"
            time.sleep(1)
    else:
        provision(cli, code)
    (cron_id,) = query(
        database,
        """SELECT res_id FROM ir_model_data
            WHERE module = 'base' AND name = 'autovacuum_job'""",
    )[0]
    query(
        database,
        "UPDATE ir_cron SET lastcall = NULL, nextcall = now() at time zone 'UTC' WHERE id = %s",
        [cron_id],
    )
    # The tenant runtime listens on the platform database (its role may not
    # open ``postgres``).
    with pg_connect(platform_db) as conn, conn.cursor() as cr:
        cr.execute("NOTIFY cron_trigger, %s", [database])
    deadline = time.monotonic() + 90
    while not query(database, "SELECT lastcall FROM ir_cron WHERE id = %s", [cron_id])[0][0]:
        assert time.monotonic() < deadline, "the cron never ran in the tenant database"
        time.sleep(1)
