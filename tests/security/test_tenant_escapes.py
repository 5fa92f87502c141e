"""Escapes a tenant's administrator (or an anonymous visitor) could try
through what Odoo offers beyond buttons: module marks written by SQL and the
stock upgrade wizard, planted dependency rows, the platform's own upgrade of
the tenant, open signup, registry eviction, the proxy's TLS question.

Each acts as the attacker would, against the running tenant runtime, and
reads the state back: nothing outside the plan is installed, no account is
made, no other tenant is touched."""

import http.client
import time

import pytest
import requests

from ..conftest import TENANT_DB_PREFIX
from ..support import RpcError, provision, query, run_code, tenant_login, wait_for_state
from .test_tenant_isolation import run_sql

OUTSIDE_THE_PLAN = "crm"  # not in the trial plan, nor anything it depends on


@pytest.fixture(scope="module")
def intruder(cli, tenant_server, credentials_dir):
    """The administrator of tenant te-evil (trial plan), logged in."""
    provision(cli, "te-evil")
    return tenant_login(tenant_server, "te-evil", credentials_dir)


@pytest.fixture(scope="module")
def neighbour(cli):
    provision(cli, "te-next")
    return TENANT_DB_PREFIX + "te-next"


def module_state(name, code="te-evil"):
    return query(
        TENANT_DB_PREFIX + code, "SELECT state FROM ir_module_module WHERE name = %s", [name]
    )[0][0]


def crm_tables(code="te-evil"):
    return query(
        TENANT_DB_PREFIX + code,
        "SELECT 1 FROM information_schema.tables WHERE table_name = 'crm_lead'",
    )


MARK_WITH_DEPENDENCIES = f"""
    WITH RECURSIVE wanted(name) AS (
        SELECT '{OUTSIDE_THE_PLAN}'::varchar
        UNION
        SELECT d.name FROM ir_module_module_dependency d
          JOIN ir_module_module m ON m.id = d.module_id
          JOIN wanted w ON w.name = m.name)
    UPDATE ir_module_module SET state = 'to install'
     WHERE name IN (SELECT name FROM wanted) AND state = 'uninstalled'"""


def installed_or_marked(code="te-evil"):
    return query(
        TENANT_DB_PREFIX + code,
        "SELECT name, state FROM ir_module_module WHERE state <> 'uninstalled' ORDER BY name",
    )


def test_a_module_marked_by_sql_is_not_installed_by_the_stock_wizard(intruder):
    """The module and everything it depends on, marked by SQL, so that the
    stock "apply scheduled upgrades" wizard finds nothing missing."""
    before = installed_or_marked()
    run_sql(intruder, MARK_WITH_DEPENDENCIES)
    assert installed_or_marked() != before, "the attack marked modules"
    wizard = intruder.call("base.module.upgrade", "create", {})
    intruder.call("base.module.upgrade", "upgrade_module", [wizard])
    assert module_state(OUTSIDE_THE_PLAN) == "uninstalled"
    assert not crm_tables()
    assert installed_or_marked() == before


def test_planted_dependencies_and_auto_install_bring_nothing_in(intruder):
    """ipai_tenant_client made to 'depend' on the module, which is marked
    auto-install and 'to upgrade' without ever having been installed; then
    the admin upgrades ipai_tenant_client."""
    run_sql(
        intruder,
        f"""INSERT INTO ir_module_module_dependency (module_id, name)
            SELECT id, '{OUTSIDE_THE_PLAN}' FROM ir_module_module
             WHERE name = 'ipai_tenant_client';
            UPDATE ir_module_module SET auto_install = true, state = 'to upgrade'
             WHERE name = '{OUTSIDE_THE_PLAN}'""",
    )
    (client,) = intruder.call("ir.module.module", "search", [("name", "=", "ipai_tenant_client")])
    try:
        intruder.call("ir.module.module", "button_immediate_upgrade", [client])
    except RpcError as refused:
        assert "plan" in str(refused)
    wizard = intruder.call("base.module.upgrade", "create", {})
    try:
        intruder.call("base.module.upgrade", "upgrade_module", [wizard])
    except RpcError as refused:
        assert "plan" in str(refused)
    assert module_state(OUTSIDE_THE_PLAN) == "uninstalled"
    assert not crm_tables()


def served_again(session, timeout=30):
    """After an upgrade the runtime serves the tenant again once its routing
    map has caught up (it checks the platform's version every second)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            count = session.call("res.users", "search_count", [])
            # That worker caught up; the others do at their next check
            # (each within a second of its last): the next call may be theirs.
            time.sleep(1.2)
            return count
        except RpcError as exc:
            if "being restored or upgraded" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_a_module_marked_installed_by_sql_never_loads(intruder, cli):
    """The admin marks the module (and what it depends on) *installed* by
    SQL, then makes every worker reload the registry: its code would run in
    the tenant, and the platform's next ``-u`` would create its tables.
    Neither happens; the marks are the tenant's own business."""
    before = installed_or_marked()
    run_sql(
        intruder,
        MARK_WITH_DEPENDENCIES.replace("'to install'", "'installed', latest_version = '18.0.1.0'"),
    )
    marked = sorted(set(installed_or_marked()) - set(before))
    assert (OUTSIDE_THE_PLAN, "installed") in marked, "the attack marked modules"
    try:
        run_sql(intruder, "SELECT nextval('base_registry_signaling')")
        loaded = "action = {'loaded': 'crm.lead' in env}"
        assert run_code(intruder, loaded) == {"loaded": False}
        result = cli("upgrade-tenants", "--modules", "ipai_tenant_client", "--tenants", "te-evil")
        assert result.returncode == 0, result.stdout + result.stderr
        assert not crm_tables()
        served_again(intruder)
        run_sql(intruder, "SELECT nextval('base_registry_signaling')")
        assert run_code(intruder, loaded) == {"loaded": False}
    finally:
        query(
            TENANT_DB_PREFIX + "te-evil",
            "UPDATE ir_module_module SET state = 'uninstalled', latest_version = NULL "
            "WHERE name = ANY(%s)",
            [[name for name, _state in marked]],
        )


def test_anonymous_visitors_cannot_sign_up(intruder, tenant_server):
    host = {"Host": "te-evil.localhost"}
    users_before = query(TENANT_DB_PREFIX + "te-evil", "SELECT count(*) FROM res_users")
    page = requests.get(f"{tenant_server.url}/web/login", headers=host, timeout=30)
    assert page.status_code == 200 and "/web/signup" not in page.text
    assert (
        requests.get(f"{tenant_server.url}/web/signup", headers=host, timeout=30).status_code == 404
    )
    session = requests.Session()
    form = session.get(f"{tenant_server.url}/web/login", headers=host, timeout=30)
    token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    session.post(
        f"{tenant_server.url}/web/signup",
        headers=host,
        data={
            "csrf_token": token,
            "login": "visitor@example.com",
            "name": "Visitor",
            "password": "visitor-pass-123",
            "confirm_password": "visitor-pass-123",
        },
        timeout=30,
    )
    assert query(TENANT_DB_PREFIX + "te-evil", "SELECT count(*) FROM res_users") == users_before
    # The tenant's own administrator may open it (their choice).
    scope = query(
        TENANT_DB_PREFIX + "te-evil",
        "SELECT value FROM ir_config_parameter WHERE key = 'auth_signup.invitation_scope'",
    )
    assert scope == [("b2b",)]


def test_a_server_action_cannot_evict_other_tenants_registries(intruder, neighbour):
    for code in (f"env.registry.delete({neighbour!r})", "env.registry.delete_all()"):
        with pytest.raises(RpcError, match=r"another database's registry"):
            run_code(intruder, code)
    # Its own registry is its own business.
    run_code(intruder, "env.registry.delete(env.cr.dbname)")


def tls_ask(tenant_server, source, domain):
    conn = http.client.HTTPConnection("127.0.0.1", tenant_server.port, source_address=(source, 0))
    try:
        conn.request("GET", f"/ipai/tls-ask?domain={domain}")
        return conn.getresponse().status
    finally:
        conn.close()


def test_only_the_proxy_learns_which_hosts_are_tenants(intruder, tenant_server):
    assert tls_ask(tenant_server, "127.0.0.1", "te-evil.localhost") == 200
    assert tls_ask(tenant_server, "127.0.0.1", "nobody.localhost") == 404
    # Any other client, even on the same machine, is told nothing.
    assert tls_ask(tenant_server, "127.0.0.2", "te-evil.localhost") == 403
    assert tls_ask(tenant_server, "127.0.0.2", "nobody.localhost") == 403


def test_the_platforms_own_upgrade_installs_nothing_the_tenant_marked(intruder, cli, platform_db):
    """The tenant marks the module, then waits for the operator's fleet
    upgrade, whose child Odoo runs in its database."""
    before = installed_or_marked()
    run_sql(intruder, MARK_WITH_DEPENDENCIES)
    result = cli("upgrade-tenants", "--tenants", "te-evil", "--modules", "ipai_tenant_client")
    assert result.returncode == 0, result.stdout + result.stderr
    assert module_state(OUTSIDE_THE_PLAN) == "uninstalled"
    assert not crm_tables()
    assert installed_or_marked() == before
    wait_for_state(platform_db, "te-evil", "active")


def test_a_tenant_from_before_closed_signup_is_closed_by_its_next_upgrade(neighbour, cli):
    """A tenant made before templates closed signup still has auth_signup's
    'b2c' (anyone signs up): the fleet upgrade of ipai_tenant_client, as
    an operator runs it, puts it on invitation only."""
    scope_sql = "SELECT value FROM ir_config_parameter WHERE key = 'auth_signup.invitation_scope'"
    query(
        neighbour,
        "UPDATE ir_config_parameter SET value = 'b2c' WHERE key = 'auth_signup.invitation_scope'",
    )
    query(
        neighbour,
        "UPDATE ir_module_module SET latest_version = '18.0.1.0.0' "
        "WHERE name = 'ipai_tenant_client'",
    )
    assert query(neighbour, scope_sql) == [("b2c",)]
    result = cli("upgrade-tenants", "--modules", "ipai_tenant_client", "--tenants", "te-next")
    assert result.returncode == 0, result.stdout + result.stderr
    assert query(neighbour, scope_sql) == [("b2b",)]
    assert query(
        neighbour, "SELECT latest_version FROM ir_module_module WHERE name = 'ipai_tenant_client'"
    ) == [("18.0.1.2.0",)]
