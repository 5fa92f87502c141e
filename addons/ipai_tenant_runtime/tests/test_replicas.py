"""Where a tenant's read-only cursor comes from: its server's replica while
the route names one and it keeps up, the primary otherwise (no server
needed: the connections are stand-ins answering the lag query)."""

from unittest import mock

import psycopg2
import pytest
from odoo.addons.ipai_tenant_runtime import connections, replicas
from odoo.addons.ipai_tenant_runtime.tests.common import route_row, tenant_runtime

WITH_REPLICA = route_row(
    "acme.example.com",
    "odoo_acme",
    db_host="pg-1",
    db_port=5432,
    replica_host="pg-1-replica",
    replica_port=5433,
    replica_max_lag=5,
)


class Cursor:
    def __init__(self, readonly, lag=None):
        self.readonly = readonly
        self.lag = lag
        self.closed = False

    def execute(self, query, params=None):
        if isinstance(self.lag, Exception):
            raise self.lag

    def fetchone(self):
        return (self.lag,)

    def close(self):
        self.closed = True


class ReplicaConnection:
    """sql_db.Connection to the replica: its cursors report ``lag``, or it
    cannot be reached at all."""

    def __init__(self):
        self.lag = 0.0
        self.handed = []

    def cursor(self):
        if self.lag == "down":
            raise psycopg2.OperationalError("connection refused")
        self.handed.append(Cursor(True, self.lag))
        return self.handed[-1]


class Registry:
    def __init__(self, db_name="odoo_acme"):
        self.db_name = db_name
        self.test_cr = None

    def original_cursor(self, readonly=False):
        return Cursor(False)  # Odoo's own, on the primary (no db_replica_host)


cursor = replicas._replica_cursor(Registry.original_cursor)


@pytest.fixture
def replica():
    connection = ReplicaConnection()
    replicas._REPLICAS.clear()
    with mock.patch.object(replicas.sql_db, "db_connect", return_value=connection):
        yield connection
    replicas._REPLICAS.clear()


def test_reads_go_to_the_replica_that_keeps_up_and_writes_to_the_primary(replica):
    with tenant_runtime(WITH_REPLICA):
        registry = Registry()
        assert cursor(registry, readonly=True) is replica.handed[-1]
        assert not cursor(registry, readonly=False).readonly


@pytest.mark.parametrize("lag", [6.0, None, psycopg2.OperationalError("gone"), "down"])
def test_a_lagging_or_unreachable_replica_or_no_standby_is_left_for_a_while(replica, lag):
    with tenant_runtime(WITH_REPLICA):
        registry = Registry()
        replica.lag = lag
        assert not cursor(registry, readonly=True).readonly
        assert all(handed.closed for handed in replica.handed), "given back"
        replica.lag = 0.0
        assert not cursor(registry, readonly=True).readonly, "not tried again at once"
        later = replicas.time.monotonic() + replicas.RETRY_SECONDS + 1
        with mock.patch.object(replicas.time, "monotonic", return_value=later):
            assert cursor(registry, readonly=True).readonly, "tried again after RETRY_SECONDS"


def test_without_a_replica_in_the_route_reads_stay_on_the_primary(replica):
    with tenant_runtime(WITH_REPLICA):
        assert cursor(Registry(), readonly=True).readonly
    without = route_row("acme.example.com", "odoo_acme", db_host="pg-1", db_port=5432)
    with tenant_runtime(without):
        assert not cursor(Registry(), readonly=True).readonly
        assert "odoo_acme" not in replicas._REPLICAS, "the route no longer names it"


def test_a_read_only_connection_is_opened_on_the_replica_as_the_tenants_role():
    def odoo_info(db_or_uri, readonly=False):
        return db_or_uri, {"database": db_or_uri, "user": "ipai", "host": "127.0.0.1"}

    with tenant_runtime(WITH_REPLICA):
        info_for = connections._tenant_connection_info(odoo_info)
        _db, read = info_for("odoo_acme", readonly=True)
        _db, write = info_for("odoo_acme")
        assert (read["host"], read["port"]) == ("pg-1-replica", 5433)
        assert read["user"] == "odoo_acme__odoo"
        assert (write["host"], write["port"]) == ("pg-1", 5432)
