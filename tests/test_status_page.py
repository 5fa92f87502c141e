"""The platform's public status page (ipai_platform_status): anyone reads it
on the platform host, without logging in; it shows each cell as its nodes
answer (a node killed makes its cell degraded), each database server as the
engine measured it, and the incidents platform staff post, and nothing of
the platform's insides (no address, port or tenant). And every active
tenant's uptime, probed through its cell's nodes, on its form and as a
chart."""

import contextlib
from urllib.parse import urlparse

import pytest
import requests

from .support import free_port, paused_cron, provision
from .test_browser_platform import login

MAIN_CELL = "main"


def anonymous_status(server):
    """The page and its JSON twin, as a client with no session gets them."""
    page = requests.get(f"{server.url}/status", timeout=30)
    assert page.status_code == 200, page.text[:500]
    report = requests.get(f"{server.url}/status.json", timeout=30)
    assert report.status_code == 200, report.text[:500]
    return page.text, report.json()


def component(report, kind, name_part):
    [found] = [c for c in report["components"] if c["kind"] == kind and name_part in c["name"]]
    return found


@contextlib.contextmanager
def cell_nodes(admin_rpc, addresses):
    """The main cell's node addresses set to ``addresses`` and probed;
    restored after."""
    [cell] = admin_rpc.call(
        "ipai.tenant.cell", "search_read", [("code", "=", MAIN_CELL)], ["node_addresses", "name"]
    )
    admin_rpc.call("ipai.tenant.cell", "write", [cell["id"]], {"node_addresses": addresses})
    try:
        admin_rpc.call("ipai.tenant.cell", "action_probe_nodes", [cell["id"]])
        yield cell
    finally:
        admin_rpc.call(
            "ipai.tenant.cell", "write", [cell["id"]], {"node_addresses": cell["node_addresses"]}
        )
        admin_rpc.call("ipai.tenant.cell", "action_probe_nodes", [cell["id"]])


@pytest.fixture
def incidents(admin_rpc):
    made = []

    def post(**values):
        made.append(admin_rpc.call("ipai.status.incident", "create", values))
        return made[-1]

    yield post
    if made:
        admin_rpc.call("ipai.status.incident", "unlink", made)


def test_anyone_sees_each_cell_as_its_nodes_answer(platform_server, tenant_server, admin_rpc):
    node = urlparse(tenant_server.url).netloc
    dead = f"127.0.0.1:{free_port()}"  # a node that was killed
    with cell_nodes(admin_rpc, f"{node}\n{dead}") as cell:
        text, report = anonymous_status(platform_server)
        main = component(report, "cell", cell["name"])
        assert main["status"] == "degraded", report
        assert report["status"] == "degraded"
        assert "Some systems are degraded" in text and cell["name"] in text
        [state] = admin_rpc.call(
            "ipai.tenant.cell", "read", [cell["id"]], ["nodes_up", "nodes_total", "status"]
        )
        assert (state["nodes_up"], state["nodes_total"]) == (1, 2)
        # Nothing of the insides: no node address, port or database host.
        for secret in (node, dead, dead.rpartition(":")[2], "127.0.0.1"):
            assert secret not in text and secret not in str(report), secret
    with cell_nodes(admin_rpc, node) as cell:
        _text, report = anonymous_status(platform_server)
        assert component(report, "cell", cell["name"])["status"] == "operational"
    # The database servers, by name, as the engine measured them.
    servers = admin_rpc.call("ipai.tenant.server", "search_read", [], ["name"])
    assert servers
    for server in servers:
        component(report, "database_server", server["name"])
    assert component(report, "platform", "Platform")["status"] == "operational"


def test_incidents_posted_by_staff_show_until_resolved(platform_server, admin_rpc, incidents):
    [cell] = admin_rpc.call("ipai.tenant.cell", "search_read", [("code", "=", MAIN_CELL)], ["name"])
    outage = incidents(
        name="Cell unreachable STATUS-7731",
        message="Requests to tenants of this cell fail; we are on it.",
        impact="critical",
        cell_ids=[(6, 0, [cell["id"]])],
    )
    incidents(name="Draft note STATUS-0000", message="not for the public", published=False)
    text, report = anonymous_status(platform_server)
    assert report["status"] == "down" and "Outage in progress" in text
    assert component(report, "cell", cell["name"])["status"] == "down"
    assert [i["title"] for i in report["incidents"]] == ["Cell unreachable STATUS-7731"]
    assert "STATUS-7731" in text and "STATUS-0000" not in text
    # Resolved, by whatever path writes the state: it moves to the past.
    admin_rpc.call(
        "ipai.status.incident",
        "write",
        [outage],
        {"state": "resolved", "message": "Fixed: a node was replaced."},
    )
    [stored] = admin_rpc.call("ipai.status.incident", "read", [outage], ["resolved_at"])
    assert stored["resolved_at"]
    text, report = anonymous_status(platform_server)
    assert report["incidents"] == []
    assert [i["title"] for i in report["past_incidents"]] == ["Cell unreachable STATUS-7731"]
    assert "Fixed: a node was replaced." in text


def test_an_anonymous_client_reads_the_page_but_no_incident_record(platform_server, incidents):
    incidents(name="Hidden STATUS-4242", message="internal", published=False)
    response = requests.post(
        f"{platform_server.url}/web/dataset/call_kw/ipai.status.incident/search_read",
        json={
            "jsonrpc": "2.0",
            "method": "call",
            "params": {
                "model": "ipai.status.incident",
                "method": "search_read",
                "args": [[]],
                "kwargs": {"fields": ["name", "message"]},
            },
        },
        timeout=30,
    )
    assert "STATUS-4242" not in response.text
    assert "error" in response.json()


def test_the_status_page_in_a_browser(
    page, platform_server, tenant_server, admin_rpc, incidents, artifacts
):
    incidents(
        name="Slow invoice printing",
        message="PDF documents take longer than usual; tenants are up.",
        impact="minor",
        affects_platform=True,
    )
    with cell_nodes(admin_rpc, urlparse(tenant_server.url).netloc):
        page.goto(f"{platform_server.url}/status")
        page.locator(".ipai-overall").wait_for()
        assert "Some systems are degraded" in page.locator(".ipai-overall").inner_text()
        assert page.locator(".ipai-component").count() >= 3
        assert page.locator(".ipai-incident").first.inner_text().startswith("Slow invoice")
        assert page.title().startswith("Status")
        page.screenshot(path=str(artifacts / "status-page.png"), full_page=True)


def uptime(admin_rpc, tenant_id):
    [tenant] = admin_rpc.call(
        "ipai.tenant", "read", [tenant_id], ["uptime_30d", "response_ms_24h", "state"]
    )
    hours = admin_rpc.call(
        "ipai.tenant.uptime",
        "search_read",
        [("tenant_id", "=", tenant_id)],
        ["probes", "failures", "uptime_percent"],
    )
    return tenant, sum(h["probes"] for h in hours), sum(h["failures"] for h in hours)


def test_each_active_tenant_is_probed_and_its_uptime_kept(
    platform_server, tenant_server, admin_rpc, cli, platform_db
):
    """Probed through its cell's nodes by its host name: up while a node
    serves it, down when none does; a suspended tenant is not probed (it
    is suspended, not down). The minute's cron is held meanwhile, so that
    the counts are this test's probes."""
    with paused_cron(platform_db, "ir_cron_probe_tenants", module="ipai_platform_status"):
        probe_one_tenant(tenant_server, admin_rpc, cli)


def probe_one_tenant(tenant_server, admin_rpc, cli):
    provision(cli, "uptime-one")
    [tenant_id] = admin_rpc.call("ipai.tenant", "search", [("code", "=", "uptime-one")])
    node = urlparse(tenant_server.url).netloc
    dead = f"127.0.0.1:{free_port()}"
    with cell_nodes(admin_rpc, f"{dead}\n{node}"):  # the first node is gone: failover
        admin_rpc.call("ipai.tenant", "action_probe_now", [tenant_id])
        tenant, probes, failures = uptime(admin_rpc, tenant_id)
        assert (probes, failures) == (1, 0)
        assert tenant["uptime_30d"] == 100.0 and tenant["response_ms_24h"] > 0
    with cell_nodes(admin_rpc, dead):  # every node of its cell is gone
        admin_rpc.call("ipai.tenant", "action_probe_now", [tenant_id])
        tenant, probes, failures = uptime(admin_rpc, tenant_id)
        assert (probes, failures) == (2, 1)
        assert tenant["uptime_30d"] == 50.0
        assert cli("suspend", "--code", "uptime-one").returncode == 0
        admin_rpc.call("ipai.tenant", "action_probe_now", [tenant_id])
        assert uptime(admin_rpc, tenant_id)[1:] == (2, 1)


def test_the_tenants_uptime_chart_in_the_backend(
    page, platform_server, admin_password, admin_rpc, artifacts
):
    [tenant_id] = admin_rpc.call("ipai.tenant", "search", [("code", "=", "uptime-one")])
    login(page, platform_server, "admin", admin_password)
    page.goto(f"{platform_server.url}/odoo/tenants/{tenant_id}")
    button = page.locator("button[name=action_view_uptime]")
    button.wait_for()
    assert "50.00" in button.inner_text() and "Uptime 30 days" in button.inner_text()
    button.click()
    page.locator(".o_graph_renderer canvas").wait_for()
    page.screenshot(path=str(artifacts / "tenant-uptime.png"), full_page=True)
