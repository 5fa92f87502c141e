"""Tenant runtime: read-only requests go to the streaming replica of the
tenant's database server, and to the primary when they cannot.

Odoo 18 serves a request on a read-only cursor when its route says so
(``readonly=True``, and ``call_kw`` of methods marked ``@api.readonly``:
``read``, ``search_read``, ``search_count``...); a registry opens such
cursors on ``db_replica_host`` when the configuration names one, for every
database alike. Here each tenant's server may name its own replica (the
routing view's ``replica_host``/``replica_port``): the read-only cursor of a
tenant comes from a connection to that replica, as the tenant's role
(connections.py), made when the route names it and forgotten when the route
no longer does; every other cursor is Odoo's own, on the primary.

A replica that is further behind than its server's ``replica_max_lag`` would
show a user what they just wrote as missing: the lag is measured on each
read cursor before it is handed out (one short query on the connection the
request uses anyway, which also finds a connection the replica dropped), and
reads stay on the primary for ``RETRY_SECONDS`` when it is too far behind,
is no standby at all (promoted: a diverged copy) or cannot be reached. Writes
never go there: Odoo retries on a read/write cursor a read-only request that
tries to write.
"""

import logging
import time

import psycopg2
from odoo import sql_db
from odoo.addons.ipai_platform_rules import replicas
from odoo.modules.registry import Registry

from . import patching, runtime_config
from .routing_map import ROUTES

_logger = logging.getLogger(__name__)

RETRY_SECONDS = 10.0


class _Replica:
    """A tenant database's read-only connection to its server's replica, in
    this process, and until when reads avoid it."""

    def __init__(self, database, place):
        self.place = place
        self.connection = sql_db.db_connect(database, readonly=True)
        self.avoided_until = 0.0
        _logger.info("replica: read-only requests of %s go to %s:%s", database, *place)

    def avoid(self, now, problem, database):
        self.avoided_until = now + RETRY_SECONDS
        _logger.warning(
            "replica: %s:%s %s, reads of %s on the primary for %ds",
            *self.place,
            problem,
            database,
            RETRY_SECONDS,
        )


_REPLICAS = {}  # database -> _Replica


def _replica_for(database, route):
    """The replica that serves ``database``'s reads now (its route's), or None."""
    if route is None or not route.replica_host:
        _REPLICAS.pop(database, None)
        return None
    place = (route.replica_host, route.replica_port)
    replica = _REPLICAS.get(database)
    if replica is None or replica.place != place:
        replica = _REPLICAS[database] = _Replica(database, place)
    return replica


def _lag_refused(cursor, max_lag):
    """Why the replica behind ``cursor`` may not serve reads now, or None."""
    try:
        cursor.execute(replicas.LAG_QUERY)
        (lag,) = cursor.fetchone()
    except psycopg2.Error as exc:
        return f"lag unknown ({_first_line(exc)})"
    return replicas.lag_problem(lag, max_lag)


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _replica_cursor(original):
    def cursor(self, /, readonly=False):
        if not readonly or runtime_config.mode() != runtime_config.TENANT or self.test_cr:
            return original(self, readonly=readonly)
        route = ROUTES.tenant(self.db_name)
        replica = _replica_for(self.db_name, route)
        now = time.monotonic()
        if replica is None or now < replica.avoided_until:
            return original(self, readonly=False)
        try:
            cr = replica.connection.cursor()
        except psycopg2.OperationalError as exc:
            problem = f"unreachable ({_first_line(exc)})"
        else:
            problem = _lag_refused(cr, route.replica_max_lag)
            if problem is None:
                return cr
            cr.close()
        replica.avoid(now, problem, self.db_name)
        return original(self, readonly=False)

    return cursor


def install():
    patching.patch(Registry, "cursor", _replica_cursor)
