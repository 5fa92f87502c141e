"""The proxy in front of several tenant runtime nodes: a tenant host sticks
to one node (its registry stays warm there), and when that node dies with
kill -9 the proxy sends the host to another node at once, the user still
logged in, in a real browser."""

import uuid

import pytest
import requests

from .support import LOCAL_DIR, Proxy, admin_password, provision, runtime_nodes

CODES = ("pxn-a", "pxn-b", "pxn-c")


@pytest.fixture(scope="module")
def tenants(cli, tenant_server):
    for code in CODES:
        provision(cli, code)
    return CODES


@pytest.fixture(scope="module")
def nodes(platform_db, tenant_server, tmp_path_factory):
    with runtime_nodes(platform_db, tmp_path_factory, "pxnode") as started:
        yield started


@pytest.fixture(scope="module")
def proxy(platform_db, platform_server, nodes, tmp_path_factory):
    server = Proxy(
        platform_server,
        list(nodes),
        LOCAL_DIR / "logs" / f"{platform_db}-pxnodes-proxy.log",
        tmp_path_factory.mktemp("caddy-nodes"),
    ).start()
    yield server
    server.stop()


def through_proxy(proxy, code, path):
    return requests.get(f"{proxy.url}{path}", headers={"Host": f"{code}.localhost"}, timeout=30)


def nodes_that_served(nodes, marker):
    """The nodes whose request log holds ``marker`` (a query string no
    other request carries), with how many times."""
    counts = {}
    for node in nodes:
        seen = node.log_path.read_text(errors="replace").count(marker)
        if seen:
            counts[node] = seen
    return counts


def test_each_tenant_host_sticks_to_one_node(tenants, nodes, proxy):
    for code in tenants:
        marker = f"affinity={uuid.uuid4().hex}"
        for _ in range(10):
            assert through_proxy(proxy, code, f"/web/login?{marker}").status_code == 200
        served = nodes_that_served(nodes, marker)
        assert list(served.values()) == [10], (code, served)


def test_a_node_killed_under_a_browser_session_hands_its_tenants_over(
    tenants, nodes, proxy, page, credentials_dir
):
    code = tenants[0]
    url = f"http://{code}.localhost:{proxy.port}"
    page.goto(f"{url}/web/login")
    page.fill("input[name=login]", f"admin@{code}.example")
    page.fill("input[name=password]", admin_password(credentials_dir, code))
    page.click("button[type=submit]")
    page.wait_for_selector(".o_main_navbar")
    marker = f"before-kill={uuid.uuid4().hex}"
    assert through_proxy(proxy, code, f"/web/login?{marker}").status_code == 200
    [serving] = nodes_that_served(nodes, marker)
    survivor = next(node for node in nodes if node is not serving)

    serving.kill()
    # The same browser, the same cookie: the web client loads logged in,
    # now served by the other node.
    page.goto(f"{url}/odoo")
    page.wait_for_selector(".o_main_navbar")
    assert "/web/login" not in page.url
    marker = f"after-kill={uuid.uuid4().hex}"
    assert through_proxy(proxy, code, f"/web/login?{marker}").status_code == 200
    assert list(nodes_that_served(nodes, marker)) == [survivor]
