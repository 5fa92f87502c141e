"""Nodes of the tenant runtime work as one: a bus message posted through one
node reaches a websocket held by another (Odoo's bus wakes listeners with
NOTIFY on the database the runtime gives every node for it), and a
tenant's cron, woken on every node at once, runs once."""

import json
import time
import uuid

import pytest
import websocket

from .support import provision, run_code, runtime_nodes, tenant_login

CODE = "node-together"
HOST = f"{CODE}.localhost"


@pytest.fixture(scope="module")
def tenant(cli, tenant_server):
    provision(cli, CODE)
    return CODE


@pytest.fixture(scope="module")
def nodes(platform_db, tenant_server, tmp_path_factory):
    """Two more nodes of the tenant runtime, each with its own data
    directory, one HTTP worker, a gevent process and a cron worker."""
    with runtime_nodes(platform_db, tmp_path_factory, "together", cron_threads=1) as started:
        yield started


def open_websocket(node, session_id):
    """The web client's websocket on ``node``'s gevent port, subscribed to
    the logged-in user's own channels."""
    socket = websocket.create_connection(
        f"ws://127.0.0.1:{node.gevent_port}/websocket",
        host=HOST,
        origin=f"http://{HOST}",
        cookie=f"session_id={session_id}",
        timeout=5,
    )
    socket.send(json.dumps({"event_name": "subscribe", "data": {"channels": [], "last": 0}}))
    return socket


def received(socket, kind, timeout):
    """The payloads of the notifications of type ``kind`` the socket gets
    within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    found = []
    while time.monotonic() < deadline and not found:
        try:
            frame = socket.recv()
        except websocket.WebSocketTimeoutException:
            continue
        for notification in json.loads(frame or "[]"):
            message = notification.get("message") or {}
            if message.get("type") == kind:
                found.append(message.get("payload"))
    return found


def test_a_bus_message_posted_on_one_node_reaches_a_websocket_on_another(
    tenant, nodes, credentials_dir
):
    node_a, node_b = nodes
    rpc = tenant_login(node_a, tenant, credentials_dir)
    socket = open_websocket(node_b, rpc.session.cookies["session_id"])
    try:
        marker = uuid.uuid4().hex
        run_code(
            rpc,
            f"env['bus.bus']._sendone(env.user.partner_id, 'ipai/node_test', "
            f"{{'marker': '{marker}'}})",
        )
        assert received(socket, "ipai/node_test", timeout=15) == [{"marker": marker}]
    finally:
        socket.close()


CRON_CODE = """
env.cr.execute("SELECT pg_sleep(1)")
env["res.partner"].create({"name": "cron run %s" % "MARKER"})
"""


def test_a_cron_woken_on_every_node_runs_once(tenant, nodes, credentials_dir):
    rpc = tenant_login(nodes[0], tenant, credentials_dir)
    marker = uuid.uuid4().hex
    [model_id] = rpc.call("ir.model", "search", [("model", "=", "res.partner")])
    cron = rpc.call(
        "ir.cron",
        "create",
        {
            "name": f"node test {marker}",
            "model_id": model_id,
            "state": "code",
            "code": CRON_CODE.replace("MARKER", marker),
            "interval_number": 1,
            "interval_type": "days",
            "nextcall": "2099-01-01 00:00:00",
        },
    )

    def runs():
        return rpc.call("res.partner", "search_count", [("name", "=", f"cron run {marker}")])

    # Each trigger wakes the cron workers of every node (two here, and the
    # session's runtime) at once: they race for the job, one runs it.
    triggers = 3
    for done in range(1, triggers + 1):
        run_code(rpc, f"env['ir.cron'].browse({cron})._trigger()")
        deadline = time.monotonic() + 60
        while runs() < done and time.monotonic() < deadline:
            time.sleep(0.5)
        assert runs() == done, f"trigger {done} did not run within 60 s"
    # Time for any second runner of the last trigger to have run too.
    time.sleep(5)
    assert runs() == triggers
