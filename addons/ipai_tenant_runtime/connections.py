"""Tenant runtime: each tenant database is opened with that tenant's role.

Odoo opens every connection through ``sql_db.connection_info_for(dbname)``,
which hands out the one ``db_user`` of the configuration. In the tenant
runtime that user is the routing role, which can read the routing view and
nothing else; a tenant's database is opened as the tenant's own role, with
the password derived from IPAI_RUNTIME_SECRET, on the tenant's database
server. A name that is no tenant's gets the routing role, which may connect
to the platform database only: SQL run by a tenant's admin has no role to
reach any other database with.

Odoo also opens ``postgres`` for its cron LISTEN/NOTIFY channel; the runtime
uses the platform database for that instead, so its routing role needs no
right on ``postgres``.

With ``ipai_db_poolers`` set, both go through the PgBouncer of their
database server (scripts/pgbouncer.sh): one pool per role and database
there, so a worker's connections no longer pin a PostgreSQL backend each.
The credentials are the same; PgBouncer checks them and PostgreSQL still
decides which database a role may open.

The cron worker is the exception: it opens every tenant database of its cell
in turn, once a minute, and closes each one before the next (Odoo's
WorkerCron with several databases). Through a transaction pool each of
those visits would leave a backend idle in PgBouncer for its
``server_idle_timeout``: one pass over N tenants, N backends at once.
Directly, the worker holds one backend at a time, for the price of a new
connection per tenant per pass (a few milliseconds).
"""

from odoo import sql_db

from . import credentials, patching, runtime_config
from .routing_map import ROUTES

MAINTENANCE_DATABASE = "postgres"
# Set in the cron worker's process (``open_tenants_directly``).
_TENANTS_DIRECTLY = False


def open_tenants_directly():
    """This process opens tenant databases on their server, not through
    the pooler: the cron worker's (see above)."""
    global _TENANTS_DIRECTLY
    _TENANTS_DIRECTLY = True


def _tenant_connection_info(original):
    def connection_info_for(db_or_uri, readonly=False):
        if runtime_config.mode() != runtime_config.TENANT or "://" in db_or_uri:
            return original(db_or_uri, readonly)
        platform = runtime_config.platform_database()
        # The routing map itself reads the platform database: never look the
        # platform database up in the map (it is no tenant's anyway).
        is_tenant = db_or_uri not in (platform, MAINTENANCE_DATABASE)
        route = (ROUTES.tenant(db_or_uri) or ROUTES.pool_member(db_or_uri)) if is_tenant else None
        dbname, info = original(db_or_uri, readonly)
        info = dict(info)
        if db_or_uri == MAINTENANCE_DATABASE:
            # Odoo checks the name it asked for comes back; only the
            # database actually opened changes.
            info["database"] = platform
        if route is None:
            # The routing role: the platform database's view, or a refusal
            # from PostgreSQL for any other name.
            info["user"] = runtime_config.runtime_role()
            info["password"] = credentials.role_password(info["user"])
            return dbname, _through_pooler(info, info.get("host"), info.get("port"))
        info["user"] = route.role
        info["password"] = credentials.role_password(route.role)
        host, port = info.get("host"), info.get("port")
        if route.db_host:
            host, port = route.db_host, route.db_port
        if readonly and route.replica_host:
            # Odoo's read-only cursors (replicas.py decides when to use them).
            host, port = route.replica_host, route.replica_port
        if _TENANTS_DIRECTLY:
            return dbname, _on_server(info, host, port)
        return dbname, _through_pooler(info, host, port)

    return connection_info_for


def _through_pooler(info, host, port):
    """``info`` sent to the pooler of server ``host:port``, or to that
    server itself: a second cluster on the same host differs by its port
    alone, so both are set whenever either differs."""
    pooler = runtime_config.pooler_for(host, port)
    if pooler:
        info["host"], info["port"] = pooler
        return info
    return _on_server(info, host, port)


def _on_server(info, host, port):
    """``info`` sent to server ``host:port`` itself."""
    if (host, port) != (info.get("host"), info.get("port")):
        info["host"], info["port"] = host, port or runtime_config.DEFAULT_DB_PORT
    return info


def install():
    # Every connection Odoo opens asks this function for its credentials.
    patching.patch(sql_db, "connection_info_for", _tenant_connection_info)
