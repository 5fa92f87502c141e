"""Nodes of the tenant runtime share nothing local: two nodes, each with a
data directory of its own (as on two machines), serve the same tenants,
and a session made on one is good on the other, survives the node it was
made on, and stays bound to its tenant's host on every node."""

import os

import psycopg2
import pytest
import requests

from .conftest import TENANT_DB_PREFIX
from .support import connect_as, provision, run_code, runtime_nodes, tenant_login

OWN, OTHER = "node-own", "node-other"


@pytest.fixture(scope="module")
def tenants(cli, tenant_server):
    for code in (OWN, OTHER):
        provision(cli, code)
    return OWN, OTHER


@pytest.fixture(scope="module")
def nodes(platform_db, tenant_server, tmp_path_factory):
    """Two more nodes of the tenant runtime beside the session's own, each
    on its own port with its own data directory."""
    with runtime_nodes(platform_db, tmp_path_factory, "node") as started:
        yield started


def host(code):
    return f"{code}.localhost"


def sid_of(rpc):
    return {"session_id": rpc.session.cookies["session_id"]}


def call(node, code, cookies, model, method, *args):
    """One ORM call through ``node`` at tenant ``code``'s host, with the
    session cookie ``cookies``, as the web client sends it; the JSON answer."""
    response = requests.post(
        f"{node.url}/web/dataset/call_kw/{model}/{method}",
        json={
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"model": model, "method": method, "args": list(args), "kwargs": {}},
        },
        headers={"Host": host(code)},
        cookies=cookies,
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


def session_info(node, code, cookies):
    response = requests.post(
        f"{node.url}/web/session/get_session_info",
        json={"jsonrpc": "2.0", "method": "call", "params": {}},
        headers={"Host": host(code)},
        cookies=cookies,
        timeout=30,
    )
    return response.json().get("result") or {}


def test_a_session_made_on_one_node_works_on_another(tenants, nodes, credentials_dir):
    node_a, node_b = nodes
    rpc = tenant_login(node_a, OWN, credentials_dir)
    answer = call(node_b, OWN, sid_of(rpc), "res.users", "read", [rpc.uid], ["login"])
    assert answer.get("result", [{}])[0].get("login") == f"admin@{OWN}.example", answer
    # A write through B, read back through A: one session, two nodes.
    partner = call(node_b, OWN, sid_of(rpc), "res.partner", "create", {"name": "Made on B"})
    assert "result" in partner, partner
    read = call(node_a, OWN, sid_of(rpc), "res.partner", "read", [partner["result"]], ["name"])
    assert read["result"][0]["name"] == "Made on B"
    # Odoo's own session ids (84 characters), of which the device log the
    # tenant's admin reads (and backups and clones carry) holds half: no
    # session can be rebuilt from it.
    sid = sid_of(rpc)["session_id"]
    assert len(sid) == 84
    own = [("user_id", "=", rpc.uid)]
    logs = rpc.call("res.device.log", "search_read", own, ["session_identifier"])
    assert logs and all(len(log["session_identifier"]) == 42 for log in logs), logs
    half = {"session_id": logs[0]["session_identifier"]}
    assert not session_info(node_b, OWN, half).get("uid")
    # Neither node kept the session on its disk.
    for node in nodes:
        sessions = node.data_dir / "sessions"
        assert not sessions.exists() or not any(p.is_file() for p in sessions.rglob("*"))


@pytest.mark.parametrize("where", ["made here", "made on the other node"])
def test_a_session_is_refused_at_another_tenants_host_on_every_node(
    tenants, nodes, credentials_dir, where
):
    """The attacker holds a session cookie of tenant OWN (stolen, or its
    own account there) and presents it at tenant OTHER's host."""
    node_a, node_b = nodes
    victim = tenant_login(node_a, OWN, credentials_dir)
    target = node_a if where == "made here" else node_b
    cookies = sid_of(victim)
    info = session_info(target, OTHER, cookies)
    assert not info.get("uid"), info
    assert info.get("db") != TENANT_DB_PREFIX + OWN
    answer = call(target, OTHER, cookies, "res.partner", "search_read", [], ["name"])
    assert "error" in answer and "result" not in answer, answer
    assert answer["error"]["data"]["name"] == "odoo.http.SessionExpiredException"
    # Nor does another cookie of OWN turn into one of OTHER through the
    # other node: its uid is OWN's admin, never OTHER's.
    second = tenant_login(node_a, OWN, credentials_dir)
    other_node = node_b if target is node_a else node_a
    answer = call(other_node, OTHER, sid_of(second), "res.users", "read", [second.uid], ["login"])
    assert "error" in answer, answer
    # OTHER's own users are unaffected on both nodes.
    owner = tenant_login(node_b, OTHER, credentials_dir)
    for node in nodes:
        answer = call(node, OTHER, sid_of(owner), "res.users", "read", [owner.uid], ["login"])
        assert answer["result"][0]["login"] == f"admin@{OTHER}.example"


# Run by OTHER's admin as a server action (code every tenant admin may
# write): a device of its own whose session identifier is 42 "_", LIKE's
# any-character, then the device list's "log out" on it.
REVOKE_EVERYTHING = """
identifier = "_" * 42
env.cr.execute(
    "INSERT INTO res_device_log (session_identifier, user_id, first_activity, last_activity,"
    " revoked) VALUES (%s, %s, now() at time zone 'UTC', now() at time zone 'UTC', false)",
    [identifier, env.uid],
)
env["res.device"].sudo().search([("session_identifier", "=", identifier)])._revoke()
"""


def test_a_tenant_revoking_its_devices_logs_out_no_other_tenant(tenants, nodes, credentials_dir):
    node_a, node_b = nodes
    victim = tenant_login(node_a, OWN, credentials_dir)
    attacker = tenant_login(node_b, OTHER, credentials_dir)
    run_code(attacker, REVOKE_EVERYTHING)
    # The revoke ran: the planted device is marked revoked.
    assert attacker.call("res.device.log", "search_count", [("revoked", "=", True)]) >= 1
    for node in nodes:
        answer = call(node, OWN, sid_of(victim), "res.users", "read", [victim.uid], ["login"])
        assert answer.get("result", [{}])[0].get("login") == f"admin@{OWN}.example", answer


def test_the_store_role_reaches_no_tenant(tenants, nodes):
    """What a node holds to reach the store opens the store alone."""
    from odoo.addons.ipai_tenant_runtime import credentials, runtime_config

    store = os.environ.get("IPAI_SESSION_DB") or runtime_config.DEFAULT_SESSION_STORE
    password = credentials.role_password(store)
    with connect_as(store, store, password) as conn, conn.cursor() as cr:
        cr.execute("SELECT count(*) FROM http_sessions")
        assert cr.fetchone()[0] >= 1
    for database in (TENANT_DB_PREFIX + OWN, TENANT_DB_PREFIX + OTHER, "postgres"):
        with pytest.raises(psycopg2.OperationalError, match="permission denied"):
            connect_as(database, store, password).close()


def test_a_node_killed_with_kill_9_leaves_its_sessions_to_the_others(
    tenants, nodes, credentials_dir
):
    node_a, node_b = nodes
    rpc = tenant_login(node_a, OWN, credentials_dir)
    assert "result" in call(node_a, OWN, sid_of(rpc), "res.users", "read", [rpc.uid], ["login"])
    node_a.kill()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{node_a.url}/web/health", timeout=5)
    answer = call(node_b, OWN, sid_of(rpc), "res.users", "read", [rpc.uid], ["login"])
    assert answer["result"][0]["login"] == f"admin@{OWN}.example"
    # And B takes new logins for the dead node's tenants.
    assert tenant_login(node_b, OWN, credentials_dir).uid == rpc.uid
