"""Each database opened with the right PostgreSQL role: the tenant's own
for its database, the routing role for anything else."""

from unittest import mock

from odoo.addons.ipai_tenant_runtime import connections, credentials, routing_map
from odoo.addons.ipai_tenant_runtime.tests.common import (
    PLATFORM_DB,
    route_row,
    routing_runtime,
    tenant_runtime,
)

ROWS = [
    route_row("acme.example.com", "odoo_acme", db_host="pg-cell-2", db_port=None),
    route_row(None, "odoo_pool_1", state=routing_map.POOL, tenant_role="pool_1_role"),
]


def _odoo_connection_info(db_or_uri, readonly=False):
    """What Odoo's own connection_info_for gives: the configured db_user."""
    return db_or_uri, {
        "database": db_or_uri,
        "user": "ipai",
        "password": "ipai-password",
        "host": "127.0.0.1",
        "port": 5432,
        "readonly": readonly,
    }


connection_info_for = connections._tenant_connection_info(_odoo_connection_info)


def test_a_tenant_database_is_opened_as_the_tenants_role_on_its_server():
    with tenant_runtime(*ROWS):
        dbname, info = connection_info_for("odoo_acme")
        assert dbname == "odoo_acme"
        assert info["database"] == "odoo_acme"
        assert info["user"] == "odoo_acme__odoo"
        assert info["password"] == credentials.role_password("odoo_acme__odoo")
        assert (info["host"], info["port"]) == ("pg-cell-2", 5432)


def test_a_second_server_on_the_same_host_is_reached_on_its_own_port():
    """A second cluster of the same machine (pg_createcluster): the same
    host as Odoo's own, another port."""
    row = route_row("beta.example.com", "odoo_beta", db_host="127.0.0.1", db_port=5433)
    with tenant_runtime(row):
        _dbname, info = connection_info_for("odoo_beta")
        assert (info["host"], info["port"]) == ("127.0.0.1", 5433)


def test_a_pool_database_is_opened_as_its_own_role():
    with tenant_runtime(*ROWS):
        _dbname, info = connection_info_for("odoo_pool_1")
        assert info["user"] == "pool_1_role"
        assert info["password"] == credentials.role_password("pool_1_role")
        assert info["host"] == "127.0.0.1", "no server of its own: the configured one"


def test_any_other_name_gets_the_routing_role_only():
    with tenant_runtime(*ROWS):
        for name in ("odoo_unknown", PLATFORM_DB):
            dbname, info = connection_info_for(name)
            assert (dbname, info["database"]) == (name, name)
            assert info["user"] == "ipai_test_runtime"
            assert info["password"] == credentials.role_password("ipai_test_runtime")


def test_the_maintenance_database_is_replaced_by_the_platform_database():
    """Odoo opens postgres for its cron notifications; the routing role has
    no right there, so the runtime opens the platform database instead."""
    with tenant_runtime(*ROWS):
        dbname, info = connection_info_for("postgres")
        assert dbname == "postgres", "Odoo checks the name it asked for"
        assert info["database"] == PLATFORM_DB
        assert info["user"] == "ipai_test_runtime"


def test_the_platform_database_is_never_looked_up_in_the_map():
    """The map itself is read from the platform database: looking it up
    there would recurse."""
    with tenant_runtime(*ROWS) as routes:
        lookups = mock.patch.multiple(
            routes, tenant=mock.DEFAULT, pool_member=mock.DEFAULT, refresh=mock.DEFAULT
        )
        with lookups as looked_up:
            _dbname, info = connection_info_for(PLATFORM_DB)
            connection_info_for("postgres")
        assert info["user"] == "ipai_test_runtime"
        assert [mocked.call_count for mocked in looked_up.values()] == [0, 0, 0]


def test_uris_and_other_runtimes_keep_odoos_connection():
    with tenant_runtime(*ROWS):
        uri = "postgresql://someone@db.example.com/odoo_acme"
        assert connection_info_for(uri) == _odoo_connection_info(uri)
    for mode in ("platform", None):
        with routing_runtime(mode, *ROWS):
            assert connection_info_for("odoo_acme") == _odoo_connection_info("odoo_acme")
            assert connection_info_for("postgres", True) == _odoo_connection_info("postgres", True)


POOLERS = "pg-cell-2:5432=pg-cell-2:6432,127.0.0.1:5432=127.0.0.1:6432"


def test_with_a_pooler_each_server_is_reached_through_its_own():
    with tenant_runtime(*ROWS, ipai_db_poolers=POOLERS):
        for name, pooler in (
            ("odoo_acme", ("pg-cell-2", 6432)),
            ("odoo_pool_1", ("127.0.0.1", 6432)),
            ("postgres", ("127.0.0.1", 6432)),
            (PLATFORM_DB, ("127.0.0.1", 6432)),
        ):
            _dbname, info = connection_info_for(name)
            assert (info["host"], info["port"]) == pooler, name
        _dbname, info = connection_info_for("odoo_acme")
        assert info["user"] == "odoo_acme__odoo", "the pooler checks the tenant's own role"


def test_a_server_without_a_pooler_is_reached_directly():
    with tenant_runtime(*ROWS, ipai_db_poolers="127.0.0.1:5432=127.0.0.1:6432"):
        _dbname, info = connection_info_for("odoo_acme")
        assert (info["host"], info["port"]) == ("pg-cell-2", 5432)


def test_the_cron_worker_opens_tenant_databases_on_their_server():
    """It visits each tenant once a pass and closes it: through the pooler
    every visit would leave a backend idle there. Its platform database
    (the cron's LISTEN) still goes through the pooler."""
    with (
        tenant_runtime(*ROWS, ipai_db_poolers=POOLERS),
        mock.patch.object(connections, "_TENANTS_DIRECTLY", False),
    ):
        connections.open_tenants_directly()
        _dbname, info = connection_info_for("odoo_acme")
        assert (info["host"], info["port"], info["user"]) == (
            "pg-cell-2",
            5432,
            "odoo_acme__odoo",
        )
        _dbname, info = connection_info_for(PLATFORM_DB)
        assert (info["host"], info["port"]) == ("127.0.0.1", 6432)


def test_a_malformed_pooler_setting_is_an_error_not_a_direct_connection():
    for value in ("127.0.0.1:6432", "127.0.0.1:5432=pgbouncer", "=127.0.0.1:6432"):
        with tenant_runtime(*ROWS, ipai_db_poolers=value):
            try:
                connection_info_for("odoo_acme")
            except ValueError as error:
                assert "ipai_db_poolers" in str(error)
            else:
                raise AssertionError(f"{value!r} was accepted")
