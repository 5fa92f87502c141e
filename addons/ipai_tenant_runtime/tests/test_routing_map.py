"""The routing map: what each runtime learns from the platform database,
read here from rows as the view ipai_tenant_routing gives them."""

from unittest import mock

import pytest
from odoo.addons.ipai_tenant_runtime import routing_map
from odoo.addons.ipai_tenant_runtime.tests.common import (
    PLATFORM_DB,
    PlatformCursor,
    platform,
    route_row,
    routing_runtime,
    runtime,
    tenant_runtime,
)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Acme.Example.COM", "acme.example.com"),
        ("acme.example.com.", "acme.example.com"),
        ("acme.example.com:8070", "acme.example.com"),
        (" acme.localhost:443 ", "acme.localhost"),
        ("[::1]:8069", "[::1]"),
        ("::1", "::1"),
        (None, ""),
    ],
)
def test_host_names_are_compared_without_case_port_or_final_dot(raw, normalized):
    assert routing_map.normalize_host(raw) == normalized


def test_the_view_becomes_hosts_and_tenant_routes():
    # One tenant reached by two host names: a row per host, the rest alike.
    acme_columns = {
        "db_host": "pg2",
        "db_port": 5433,
        "max_users": 5,
        "max_companies": 1,
        "modules": ["sale", "crm"],
        "feature_bi": True,
        "max_mails_day": 50,
        "feature_own_smtp": True,
    }
    rows = [
        route_row("acme.example.com", "odoo_acme", **acme_columns),
        route_row("ERP.Acme.Test.", "odoo_acme", **acme_columns),
        route_row("beta.example.com", "odoo_beta", state="suspended", plan_name=None),
    ]
    hosts, tenants, pool = routing_map.RoutingMap._load_tenants(PlatformCursor(rows))
    assert hosts == {
        "acme.example.com": "odoo_acme",
        "erp.acme.test": "odoo_acme",
        "beta.example.com": "odoo_beta",
    }
    assert pool == {}
    acme = tenants["odoo_acme"]
    assert (acme.role, acme.db_host, acme.db_port) == ("odoo_acme__odoo", "pg2", 5433)
    assert acme.limits == {"users": 5, "users_per_company": None, "companies": 1, "mails_day": 50}
    assert acme.modules == ("sale", "crm")
    assert acme.features == {"bi": True, "own_smtp": True}
    assert not acme.suspended and not acme.in_maintenance
    beta = tenants["odoo_beta"]
    assert beta.suspended
    assert beta.plan_name == ""
    assert beta.features == {"bi": False, "own_smtp": False}


def test_a_pool_member_is_known_by_database_and_never_routed():
    rows = [route_row(None, "odoo_pool_1", state=routing_map.POOL, tenant_role="pool_1_role")]
    hosts, tenants, pool = routing_map.RoutingMap._load_tenants(PlatformCursor(rows))
    assert hosts == {} and tenants == {}
    assert pool["odoo_pool_1"].role == "pool_1_role"
    assert pool["odoo_pool_1"].modules == ()


def test_conflicting_routes_serve_neither_database():
    rows = [
        # Two different routes for one database.
        route_row("one.example.com", "odoo_one"),
        route_row("one-alias.example.com", "odoo_one", state="maintenance"),
        # One host for two databases.
        route_row("shared.example.com", "odoo_two"),
        route_row("shared.example.com", "odoo_three"),
        route_row("sound.example.com", "odoo_sound"),
        # A pool row for a database that is also a tenant's.
        route_row(None, "odoo_sound", state=routing_map.POOL),
    ]
    hosts, tenants, pool = routing_map.RoutingMap._load_tenants(PlatformCursor(rows))
    assert hosts == {"sound.example.com": "odoo_sound"}
    assert sorted(tenants) == ["odoo_sound"]
    assert pool == {}


def test_the_map_reloads_only_when_the_routing_version_moves():
    cursor = PlatformCursor([route_row("acme.example.com", "odoo_acme")], version=7)
    with runtime("tenant"), platform(cursor) as routes:
        assert routes.database_for("acme.example.com:443") == "odoo_acme"
        cursor.rows.append(route_row("new.example.com", "odoo_new"))
        routes.refresh(max_age=0)
        assert routes.database_for("new.example.com") is None, "same version: no reload"
        cursor.version = 8
        routes.refresh(max_age=0)
        assert routes.database_for("new.example.com") == "odoo_new"
        assert routes.tenant("odoo_new").role == "odoo_new__odoo"


def test_a_database_moved_to_another_server_has_its_registry_loaded_again():
    """A loaded registry keeps the connection settings it was made with: a
    tenant moved to another server must not be opened at the old place."""
    cursor = PlatformCursor(
        [route_row("acme.example.com", "odoo_acme"), route_row("calm.example.com", "odoo_calm")],
        version=1,
    )
    forgotten = []
    with (
        runtime("tenant"),
        platform(cursor) as routes,
        mock.patch.object(routing_map, "_forget_registry", forgotten.append),
    ):
        assert routes.tenant("odoo_acme").db_host is None
        cursor.rows[0] = route_row("acme.example.com", "odoo_acme", db_host="pg2", db_port=5433)
        cursor.version = 2
        routes.refresh(max_age=0)
        assert routes.tenant("odoo_acme").db_host == "pg2"
        assert forgotten == ["odoo_acme"], "only the moved database"


def test_a_platform_that_cannot_be_read_keeps_the_last_map():
    cursor = PlatformCursor([route_row("acme.example.com", "odoo_acme")])
    with runtime("tenant"), platform(cursor) as routes:
        assert routes.tenant("odoo_acme") is not None
        cursor.version = 2
        cursor.execute = _failing_execute
        routes.refresh(max_age=0)
        assert routes.tenant("odoo_acme") is not None


def _failing_execute(query, params=None):
    raise OSError("connection refused")


def test_crons_run_on_active_tenants_only():
    rows = [
        route_row("a.example.com", "odoo_a"),
        route_row("s.example.com", "odoo_s", state="suspended"),
        route_row("m.example.com", "odoo_m", state="maintenance"),
        route_row("z.example.com", "odoo_z"),
        route_row(None, "odoo_pool", state=routing_map.POOL),
    ]
    with tenant_runtime(*rows) as routes:
        assert routes.cron_databases() == ["odoo_a", "odoo_z"]
        assert routes.pool_databases() == ["odoo_pool"]
        assert routes.pool_member("odoo_pool").state == routing_map.POOL
        assert routes.pool_member("odoo_a") is None


def test_the_control_plane_routes_its_platform_host_names_only():
    with routing_runtime(
        "platform",
        route_row("acme.example.com", "odoo_acme"),
        platform_hosts="admin.example.com, Ops.Example.com:8069",
    ) as routes:
        assert routes.database_for("admin.example.com") == PLATFORM_DB
        assert routes.database_for("ops.example.com") == PLATFORM_DB
        assert routes.database_for("acme.example.com") is None
        assert routes.tenant("odoo_acme") is None
        assert routes.cron_databases() == [PLATFORM_DB]


def test_the_control_plane_defaults_to_local_host_names():
    with routing_runtime("platform") as routes:
        assert routes.database_for("localhost:8069") == PLATFORM_DB
        assert routes.database_for("127.0.0.1") == PLATFORM_DB
        assert routes.database_for("evil.example.com") is None
