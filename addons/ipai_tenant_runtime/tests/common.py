"""Helpers of the runtime's tests: the runtime's options, and a platform
database made of rows, so routing, connections and gates run without a
server, a platform database or a tenant."""

import contextlib
import os
import secrets
from unittest import mock

from odoo.addons.ipai_platform_rules.routes import ROUTE_COLUMNS
from odoo.addons.ipai_tenant_runtime import (
    connections,
    gates,
    http_routing,
    module_gate,
    preload,
    replicas,
    routing_map,
    smtp_gate,
)
from odoo.tools import config

PLATFORM_DB = "ipai_test_platform"
RUNTIME_SECRET = secrets.token_urlsafe(48)
VIEW_COLUMNS = ("host", *ROUTE_COLUMNS)
# Every module that holds the routing map under the name ROUTES.
_ROUTES_READERS = (connections, gates, http_routing, module_gate, preload, replicas, smtp_gate)


def route_row(host, database, state="active", **values):
    """A row of the view ipai_cell_routing; ``values`` override columns."""
    row = dict.fromkeys(VIEW_COLUMNS)
    row.update(
        host=host,
        database_name=database,
        state=state,
        tenant_role=f"{database}__odoo",
        plan_code="starter",
        plan_name="Starter",
        modules=["base"],
        feature_bi=False,
        max_mails_day=200,
        feature_own_smtp=False,
    )
    row.update(values)
    return row


class PlatformCursor:
    """Answers the queries of the routing map as the platform database
    would: the routing version, the platform host names, the view."""

    def __init__(self, rows=(), version=1, platform_hosts=None):
        self.rows = list(rows)
        self.version = version
        self.platform_hosts = platform_hosts
        self.description = None
        self._result = []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def execute(self, query, params=None):
        if "ipai_routing_version" in query:
            self._result = [(self.version, True)]
        elif "ir_config_parameter" in query:
            self._result = [(self.platform_hosts,)] if self.platform_hosts else []
        elif "ipai_cell_routing" in query:
            self.description = [(column,) for column in VIEW_COLUMNS]
            self._result = [tuple(row[column] for column in VIEW_COLUMNS) for row in self.rows]
        else:
            raise AssertionError(f"unexpected query {query}")

    def fetchone(self):
        return self._result[0] if self._result else None

    def fetchall(self):
        return list(self._result)


@contextlib.contextmanager
def runtime(mode, **options):
    """The Odoo options of a runtime (``mode``: "platform", "tenant" or None),
    with the runtime secret in the environment."""
    values = {
        "ipai_runtime": mode or "",
        "ipai_platform_db": PLATFORM_DB,
        "ipai_runtime_role": "ipai_test_runtime",
        # The default cell's store (a machine's config may rename it).
        "ipai_session_db": "",
        "ipai_proxy_addresses": "127.0.0.1",
        **options,
    }
    with (
        mock.patch.dict(config.options, values),
        mock.patch.dict("os.environ", {"IPAI_RUNTIME_SECRET": RUNTIME_SECRET}),
    ):
        # The master and no cell of its own: the default cell's, as the
        # control plane (patch.dict puts back whatever is taken out here).
        os.environ.pop("IPAI_CELL", None)
        os.environ.pop("IPAI_CELL_SECRET", None)
        yield


@contextlib.contextmanager
def platform(cursor):
    """A fresh routing map that reads ``cursor`` as the platform database,
    in place of the one every runtime module holds."""
    routes = routing_map.RoutingMap()
    connection = mock.Mock()
    connection.cursor.return_value = cursor
    with contextlib.ExitStack() as stack:
        stack.enter_context(
            mock.patch.object(routing_map, "sql_db", mock.Mock(db_connect=lambda db: connection))
        )
        for module in _ROUTES_READERS:
            stack.enter_context(mock.patch.object(module, "ROUTES", routes))
        yield routes


@contextlib.contextmanager
def routing_runtime(mode, *rows, platform_hosts=None, **options):
    """The runtime of ``mode`` (as ``runtime``) routing ``rows``, its platform
    database naming ``platform_hosts``; yields the routing map."""
    cursor = PlatformCursor(rows, platform_hosts=platform_hosts)
    with runtime(mode, **options), platform(cursor) as routes:
        yield routes


def tenant_runtime(*rows, **options):
    """The tenant runtime, routing ``rows``; yields the routing map."""
    return routing_runtime("tenant", *rows, **options)


@contextlib.contextmanager
def attributes_restored(targets):
    """Puts each ``(owner, name)`` back as it was on leaving, so a test may
    apply the real patches in a process other tests share."""
    missing = object()
    saved = [(owner, name, vars(owner).get(name, missing)) for owner, name in targets]
    try:
        yield
    finally:
        for owner, name, value in saved:
            if value is missing:
                if name in vars(owner):
                    delattr(owner, name)
            else:
                setattr(owner, name, value)
