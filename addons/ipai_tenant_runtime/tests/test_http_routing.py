"""Host routing without an HTTP server: the functions Odoo asks for a
request's database, the RPC binding, the gates before a tenant's database
and the paths no runtime serves, called as Odoo calls them."""

import json
from types import SimpleNamespace
from unittest import mock

import pytest
from odoo.addons.ipai_tenant_runtime import credentials, http_routing
from odoo.addons.ipai_tenant_runtime.tests.common import (
    PLATFORM_DB,
    route_row,
    routing_runtime,
    runtime,
    tenant_runtime,
)
from odoo.exceptions import AccessDenied

ROWS = [
    route_row("acme.example.com", "odoo_acme"),
    route_row("erp.acme.test", "odoo_acme"),
    route_row("beta.example.com", "odoo_beta"),
    route_row("frozen.example.com", "odoo_frozen", state="suspended", plan_name="Pro"),
    route_row("moving.example.com", "odoo_moving", state="maintenance"),
]
CLUSTER = ["odoo_acme", "odoo_beta", "odoo_frozen", "odoo_other", PLATFORM_DB, "postgres"]


def _odoo_db_filter(dbs, host=None):
    return list(dbs)


def _odoo_db_list(force=False, host=None):
    return list(CLUSTER)


db_filter = http_routing._routed_db_filter(_odoo_db_filter)
db_list = http_routing._routed_db_list(_odoo_db_list)


@pytest.mark.parametrize(
    ("host", "database"),
    [
        ("acme.example.com", "odoo_acme"),
        ("ACME.example.com:443", "odoo_acme"),
        ("erp.acme.test.", "odoo_acme"),
        ("beta.example.com", "odoo_beta"),
        ("frozen.example.com", "odoo_frozen"),
        ("unknown.example.com", None),
        ("localhost", None),
        ("", None),
    ],
)
def test_the_tenant_runtime_admits_the_hosts_database_only(host, database):
    with tenant_runtime(*ROWS):
        expected = [database] if database else []
        assert db_filter(CLUSTER, host=host) == expected
        assert db_list(force=True, host=host) == expected


def test_a_host_whose_database_is_gone_admits_nothing():
    with tenant_runtime(*ROWS):
        assert db_filter(["odoo_beta", "odoo_other"], host="acme.example.com") == []


def test_the_control_plane_admits_the_platform_database_on_its_hosts_only():
    with routing_runtime("platform", *ROWS, platform_hosts="admin.example.com"):
        assert db_filter(CLUSTER, host="admin.example.com") == [PLATFORM_DB]
        assert db_list(host="admin.example.com") == [PLATFORM_DB]
        assert db_filter(CLUSTER, host="acme.example.com") == []
        assert db_list(host="acme.example.com") == []


def test_without_a_runtime_odoo_decides():
    with routing_runtime(None, *ROWS):
        assert db_filter(CLUSTER, host="acme.example.com") == CLUSTER
        assert db_list(host="acme.example.com") == CLUSTER


def _recorded_rpc(service_name, method, params):
    return ("dispatched", service_name, method)


dispatch_rpc = http_routing._host_bound_dispatch_rpc(_recorded_rpc)


def _on_host_database(dbname):
    request = SimpleNamespace(db=dbname) if dbname else None
    return mock.patch.object(http_routing.http, "request", request)


def test_rpc_reaches_the_hosts_database_only():
    with tenant_runtime(*ROWS), _on_host_database("odoo_acme"):
        call = ["odoo_acme", 2, "pw", "res.partner", "search", []]
        assert dispatch_rpc("object", "execute_kw", call) == ("dispatched", "object", "execute_kw")
        assert dispatch_rpc("common", "login", ["odoo_acme", "admin", "pw"])[0] == "dispatched"
        refused = [
            ("object", "execute_kw", ["odoo_beta", 2, "pw", "res.partner", "search", []]),
            ("common", "authenticate", [PLATFORM_DB, "admin", "pw", {}]),
            ("object", "execute_kw", []),
            ("db", "list", []),
            ("db", "drop", ["admin", "odoo_acme"]),
        ]
        for service_name, method, params in refused:
            with pytest.raises(AccessDenied, match="no such database"):
                dispatch_rpc(service_name, method, params)


def test_rpc_without_a_host_database_reveals_only_the_version():
    with tenant_runtime(*ROWS), _on_host_database(None):
        assert dispatch_rpc("common", "version", [])[0] == "dispatched"
        assert dispatch_rpc("db", "server_version", [])[0] == "dispatched"
        with pytest.raises(AccessDenied):
            dispatch_rpc("common", "login", ["odoo_acme", "admin", "pw"])
    with runtime(None), _on_host_database(None):
        assert dispatch_rpc("db", "list", [])[0] == "dispatched", "plain Odoo"


def _request(db, path="/odoo", mimetype="text/html", headers=None):
    return SimpleNamespace(
        db=db,
        httprequest=SimpleNamespace(path=path, mimetype=mimetype, headers=headers or {}),
    )


serve_db = http_routing._gated_serve_db(lambda request: "served")
serve_nodb = http_routing._routed_serve_nodb(lambda request: "database selector")


def test_an_active_tenant_is_served():
    with tenant_runtime(*ROWS):
        assert serve_db(_request("odoo_acme")) == "served"


def test_a_suspended_tenant_gets_a_page_or_an_rpc_error_before_its_database():
    with tenant_runtime(*ROWS):
        page = serve_db(_request("odoo_frozen"))
        assert page.status_code == 503
        assert "suspended (plan Pro)" in page.get_data(as_text=True)
        rpc = serve_db(_request("odoo_frozen", "/web/dataset/call_kw", "application/json"))
        error = json.loads(rpc.get_data())["error"]
        assert error["data"]["name"] == "odoo.exceptions.AccessDenied"
        assert "suspended" in error["data"]["message"]
        assert serve_db(_request("odoo_frozen", "/web/health")) == "served"


def test_a_tenant_in_maintenance_is_closed_but_to_the_platforms_smoke_check():
    with tenant_runtime(*ROWS):
        page = serve_db(_request("odoo_moving"))
        assert (page.status_code, page.headers["Retry-After"]) == (503, "60")
        assert "restored or upgraded" in page.get_data(as_text=True)
        header = credentials.SMOKE_CHECK_HEADER
        token = credentials.smoke_check_token("odoo_moving")
        assert serve_db(_request("odoo_moving", headers={header: token})) == "served"
        foreign = credentials.smoke_check_token("odoo_acme")
        assert serve_db(_request("odoo_moving", headers={header: foreign})).status_code == 503
        assert serve_db(_request("odoo_moving", headers={header: ""})).status_code == 503


def test_a_database_no_longer_routed_is_an_unknown_tenant():
    with tenant_runtime(*ROWS):
        assert serve_db(_request("odoo_other")).status_code == 404


def test_a_host_without_database_gets_a_page_not_the_database_selector():
    with tenant_runtime(*ROWS):
        page = serve_nodb(_request(None))
        assert page.status_code == 404
        assert "Unknown tenant" in page.get_data(as_text=True)
        assert serve_nodb(_request(None, "/web/health")) == "database selector"
    with runtime(None):
        assert serve_nodb(_request(None)) == "database selector"
        assert serve_db(_request("odoo_frozen")) == "served"


application = http_routing._guarded_application(lambda app, environ, start: ["odoo"])


def _call(path, remote_addr="127.0.0.1", query=""):
    statuses = []
    environ = {
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REMOTE_ADDR": remote_addr,
        "REQUEST_METHOD": "GET",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
    }
    body = application(None, environ, lambda status, headers: statuses.append(status))
    return (statuses[0] if statuses else None), b"".join(
        part.encode() if isinstance(part, str) else part for part in body
    )


def test_the_database_manager_is_never_served():
    for mode in ("tenant", "platform"):
        with routing_runtime(mode, *ROWS):
            for path in ("/web/database/manager", "/web/database/list", "/web/database/drop"):
                assert _call(path)[0].startswith("404"), (mode, path)
            assert _call("/web/login") == (None, b"odoo")
    with runtime(None):
        assert _call("/web/database/manager") == (None, b"odoo")


def test_the_proxy_learns_which_hosts_the_tenant_runtime_routes():
    with tenant_runtime(*ROWS):
        path = http_routing.TLS_ASK_PATH
        assert _call(path, query="domain=erp.acme.test")[0] == "200 OK"
        assert _call(path, query="domain=unknown.example.com")[0] == "404 Not Found"
        assert _call(path)[0] == "404 Not Found"
        assert _call(path, "10.1.2.3", "domain=erp.acme.test")[0] == "403 Forbidden"
    with routing_runtime("platform", *ROWS):
        assert _call(http_routing.TLS_ASK_PATH) == (None, b"odoo"), "tenant runtime only"


FORWARDED = {
    "HTTP_X_FORWARDED_FOR": "10.9.9.9",
    "HTTP_X_FORWARDED_HOST": "acme.example.com",
    "HTTP_X_FORWARDED_PROTO": "https",
    "HTTP_FORWARDED": "for=10.9.9.9",
}


def _forwarded_seen_by_odoo(remote_addr):
    seen = {}

    def odoo(app, environ, start_response):
        seen.update({key: environ[key] for key in FORWARDED if key in environ})
        return []

    environ = {"PATH_INFO": "/web/login", "REMOTE_ADDR": remote_addr, **FORWARDED}
    http_routing._guarded_application(odoo)(None, environ, lambda *args: None)
    return seen


def test_forwarded_headers_are_believed_from_the_proxy_only():
    for mode in ("tenant", "platform"):
        with runtime(mode, ipai_proxy_addresses="127.0.0.1,10.0.0.0/24,localhost"):
            assert _forwarded_seen_by_odoo("127.0.0.1") == FORWARDED
            assert _forwarded_seen_by_odoo("10.0.0.7") == FORWARDED
            # A client reaching the runtime's port directly claims nothing.
            assert _forwarded_seen_by_odoo("10.0.1.7") == {}
            assert _forwarded_seen_by_odoo("not an address") == {}
        with runtime(mode, ipai_proxy_addresses="no-such-proxy.invalid"):
            assert _forwarded_seen_by_odoo("127.0.0.1") == {}


def test_crons_run_on_this_runtimes_databases():
    cron_db_list = http_routing._routed_cron_db_list(lambda worker: list(CLUSTER))
    with tenant_runtime(*ROWS):
        assert cron_db_list(None) == ["odoo_acme", "odoo_beta"]
    with routing_runtime("platform", *ROWS):
        assert cron_db_list(None) == [PLATFORM_DB]
    with runtime(None):
        assert cron_db_list(None) == CLUSTER
