"""The platform database served by a real Odoo process, driven over HTTP."""

import pytest
import requests

from .support import JsonRpc, RpcError, provider_manager


def test_login_page_is_served(platform_server):
    response = requests.get(f"{platform_server.url}/web/login", timeout=30)
    assert response.status_code == 200
    assert 'name="login"' in response.text


def test_database_manager_and_listing_are_not_served(platform_server):
    for path in ("/web/database/list", "/web/database/manager"):
        response = requests.post(
            f"{platform_server.url}{path}",
            json={"jsonrpc": "2.0", "method": "call", "params": {}},
            timeout=30,
        )
        assert response.status_code == 404, path
    rpc = requests.post(
        f"{platform_server.url}/jsonrpc",
        json={
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": "db", "method": "list", "args": []},
        },
        timeout=30,
    ).json()
    assert "error" in rpc


def test_admin_reads_seed_tenants_over_rpc(admin_rpc):
    codes = {t["code"] for t in admin_rpc.call("ipai.tenant", "search_read", [], ["code"])}
    assert {"platform", "tbwa", "scout"} <= codes


def test_wrong_password_is_refused(platform_server):
    with pytest.raises(RpcError):
        JsonRpc(platform_server.url, platform_server.dbname, "admin", "not-the-password")


class TestProviderIsolationOverRpc:
    """Record rules hold whatever the entry point: here, the web client's RPC."""

    @pytest.fixture(scope="class")
    def providers(self, admin_rpc, platform_server):
        platform_id = admin_rpc.call("ipai.tenant", "search", [("code", "=", "platform")])[0]
        reseller = admin_rpc.call("ipai.tenant.plan", "search", [("code", "=", "provider")])[0]
        ids = {}
        for code, kind, parent in (
            ("rpc-prov-a", "provider", "platform"),
            ("rpc-prov-b", "provider", "platform"),
            ("rpc-client-a", "client", "rpc-prov-a"),
            ("rpc-client-b", "client", "rpc-prov-b"),
        ):
            parent_id = platform_id if parent == "platform" else ids[parent]
            ids[code] = admin_rpc.call(
                "ipai.tenant",
                "create",
                {
                    "code": code,
                    "name": code.upper(),
                    "tenant_type": kind,
                    "parent_id": parent_id,
                    **({"plan_id": reseller} if kind == "provider" else {}),
                },
            )
        manager = provider_manager(admin_rpc, platform_server, ids["rpc-prov-a"], "rpc-manager-a")
        return ids, manager

    def test_search_read_returns_only_own_subtree(self, providers):
        _ids, manager = providers
        codes = {t["code"] for t in manager.call("ipai.tenant", "search_read", [], ["code"])}
        assert codes == {"rpc-prov-a", "rpc-client-a"}

    def test_read_and_write_of_other_provider_fail(self, providers, admin_rpc):
        ids, manager = providers
        with pytest.raises(RpcError) as read_error:
            manager.call("ipai.tenant", "read", [ids["rpc-client-b"]], ["name"])
        assert read_error.value.name == "odoo.exceptions.AccessError"
        with pytest.raises(RpcError):
            manager.call("ipai.tenant", "write", [ids["rpc-client-b"]], {"name": "hacked"})
        name = admin_rpc.call("ipai.tenant", "read", [ids["rpc-client-b"]], ["name"])[0]["name"]
        assert name == "RPC-CLIENT-B"

    def test_name_search_and_read_group_hide_other_provider(self, providers):
        _ids, manager = providers
        found = manager.call("ipai.tenant", "name_search", "rpc-client")
        assert [name for _id, name in found] == ["RPC-CLIENT-A"]
        groups = manager.call("ipai.tenant", "read_group", [], ["tenant_type"], ["tenant_type"])
        assert sum(g["tenant_type_count"] for g in groups) == 2
