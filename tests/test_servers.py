"""Database servers as real resources: `make add-server` prepares a new
PostgreSQL server (a cluster this module makes, as it comes: no platform
role, every database open to PUBLIC), checks it and registers it, or refuses
it and records nothing; the placement sends a provider's tenants to the
server dedicated to it and no one else's, skips closed and unreachable
servers, and a tenant placed there is served by the runtime."""

import subprocess

import pytest

from .support import (
    RpcError,
    add_server,
    on_cluster,
    provider_with_manager,
    provision,
    query,
    registered_server,
    server_of,
    servers_named,
    tenant_login,
)

PROVIDER = "sv-prov"


@pytest.fixture(scope="module")
def second_server(cluster, platform_db):
    with registered_server(platform_db, "sv-second", cluster["port"]) as server_id:
        yield server_id


def test_an_unprepared_or_unreachable_server_is_refused_and_nothing_recorded(cluster, platform_db):
    # The cluster as it comes: no platform role on it.
    result = add_server(platform_db, "sv-raw", cluster["port"], prepare=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "was not added" in result.stderr and "sv-raw" in result.stderr
    assert not servers_named(platform_db, "sv-raw")
    # Nothing listens there.
    result = add_server(platform_db, "sv-nowhere", 1, prepare=False)
    assert result.returncode == 2 and "was not added" in result.stderr, result.stderr
    assert not servers_named(platform_db, "sv-nowhere")
    result = add_server(platform_db, "sv-bad", "port")
    assert result.returncode != 0 and "PORT must be a number" in result.stderr
    assert not servers_named(platform_db, "sv-bad")


def test_add_server_prepares_checks_and_registers(cluster, second_server, platform_db, admin_rpc):
    [role] = on_cluster(
        cluster,
        "SELECT rolcreatedb, rolcreaterole, rolsuper FROM pg_roles WHERE rolname = 'ipai'",
    )
    assert role == (True, True, False)
    open_to_public = on_cluster(
        cluster,
        "SELECT datname FROM pg_database WHERE datallowconn"
        " AND (datacl IS NULL OR datacl::text ~ '(^|[{,])=[^,}]*c')",
    )
    assert open_to_public == []
    [server] = admin_rpc.call(
        "ipai.tenant.server",
        "read",
        [second_server],
        ["health", "server_version", "size_mb", "connection_count", "capacity", "port"],
    )
    assert server["health"] == "ok", server
    assert server["server_version"].startswith(cluster["version"])
    assert server["size_mb"] > 0 and server["connection_count"] >= 1
    assert (server["capacity"], server["port"]) == (50, cluster["port"])
    # Once is enough: the same name again is refused.
    result = add_server(platform_db, "sv-second", cluster["port"])
    assert result.returncode == 2 and "exists already" in result.stderr
    assert len(servers_named(platform_db, "sv-second")) == 1


@pytest.fixture(scope="module")
def dedicated(second_server, admin_rpc, platform_server):
    provider_id, manager = provider_with_manager(
        admin_rpc, platform_server, PROVIDER, "SV Provider", "sv-manager"
    )
    admin_rpc.call(
        "ipai.tenant.server", "write", [second_server], {"dedicated_provider_id": provider_id}
    )
    return provider_id, manager


def test_a_providers_tenants_go_to_its_dedicated_server_and_no_one_elses(
    dedicated, cli, platform_db, tenant_server, credentials_dir, cluster
):
    provision(cli, "sv-own", "--parent", PROVIDER)
    provision(cli, "sv-other")
    assert server_of(platform_db, "sv-own") == "sv-second"
    assert server_of(platform_db, "sv-other") != "sv-second"
    # Served from the new server: its database is there, and its admin logs in.
    [(database,)] = query(
        platform_db, "SELECT database_name FROM ipai_tenant WHERE code = 'sv-own'"
    )
    assert on_cluster(cluster, "SELECT 1 FROM pg_database WHERE datname = %s", [database])
    rpc = tenant_login(tenant_server, "sv-own", credentials_dir)
    assert rpc.call("res.users", "search_count", [("login", "=", "admin@sv-own.example")]) == 1


def test_another_provider_cannot_put_its_tenant_on_a_dedicated_server(
    dedicated, second_server, admin_rpc, platform_server, platform_db
):
    """A provider's JSON-RPC calls, with the server in the values or as a
    context default: refused, nothing made; nor can it reconfigure a server
    or read whom one is dedicated to."""
    _other_id, other = provider_with_manager(
        admin_rpc, platform_server, "sv-rival", "SV Rival", "sv-rival-manager"
    )
    [(rival_id,)] = query(platform_db, "SELECT id FROM ipai_tenant WHERE code = 'sv-rival'")
    sneak = {"code": "sv-sneak", "name": "Sneak", "parent_id": rival_id}
    before = query(platform_db, "SELECT count(*) FROM ipai_tenant")
    with pytest.raises(RpcError, match="Only platform managers choose"):
        other.call("ipai.tenant", "create", {**sneak, "server_id": second_server})
    assert query(platform_db, "SELECT count(*) FROM ipai_tenant") == before
    # As a context default, the server never reaches the record (the
    # platform drops defaults of fields a provider may not set).
    made = other.call("ipai.tenant", "create", sneak, context={"default_server_id": second_server})
    [(server_id,)] = query(platform_db, "SELECT server_id FROM ipai_tenant WHERE id = %s", [made])
    assert server_id != second_server
    with pytest.raises(RpcError):
        other.call("ipai.tenant.server", "write", [second_server], {"dedicated_provider_id": False})
    with pytest.raises(RpcError):
        other.call("ipai.tenant.server", "write", [second_server], {"open_to_new": True})
    [seen] = other.call("ipai.tenant.server", "read", [second_server], [])
    assert "dedicated_provider_id" not in seen and "health_message" not in seen
    [(owner,)] = query(
        platform_db,
        "SELECT dedicated_provider_id FROM ipai_tenant_server WHERE id = %s",
        [second_server],
    )
    assert owner is not None


def test_closed_and_unreachable_servers_get_no_new_tenant(
    dedicated, second_server, admin_rpc, cli, platform_db, cluster
):
    admin_rpc.call("ipai.tenant.server", "write", [second_server], {"open_to_new": False})
    try:
        provision(cli, "sv-closed", "--parent", PROVIDER)
        assert server_of(platform_db, "sv-closed") != "sv-second"
    finally:
        admin_rpc.call("ipai.tenant.server", "write", [second_server], {"open_to_new": True})

    subprocess.run(["pg_ctlcluster", cluster["version"], cluster["name"], "stop"], check=True)
    try:
        listing = cli("list-servers")
        assert listing.returncode == 0, listing.stderr
        [line] = [row for row in listing.stdout.splitlines() if row.startswith("sv-second ")]
        assert "unreachable" in line
        provision(cli, "sv-down", "--parent", PROVIDER)
        assert server_of(platform_db, "sv-down") != "sv-second"
    finally:
        subprocess.run(["pg_ctlcluster", cluster["version"], cluster["name"], "start"], check=True)
    admin_rpc.call("ipai.tenant.server", "action_check_health", [second_server])
    [server] = admin_rpc.call("ipai.tenant.server", "read", [second_server], ["health"])
    assert server["health"] == "ok"
