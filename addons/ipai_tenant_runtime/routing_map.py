"""What each runtime knows about hosts and tenants, read from the platform
database and reloaded when its ``ipai_routing_version`` sequence moves.

- The control plane reads the platform host names from its own database.
- The tenant runtime reads the view ``ipai_cell_routing`` (made by
  ipai_tenant_engine) as its cell's routing role, which may read nothing
  else, and in it only its own cell's rows (PostgreSQL filters them by the
  role that logged in): per
  host, the tenant's database, database server, PostgreSQL role, state, plan
  limits and module set. This is all it ever learns from the platform.
"""

import logging
import threading
import time
from dataclasses import dataclass, field

from odoo import sql_db
from odoo.addons.ipai_platform_rules import lifecycle

from . import runtime_config

_logger = logging.getLogger(__name__)

VERSION_CHECK_SECONDS = 1.0
# A host or database not in the map is looked up again sooner: a tenant
# that just became active is served at once, while a flood of unknown
# names costs at most one cheap query per worker per interval.
MISS_CHECK_SECONDS = 0.1
DEFAULT_PLATFORM_HOSTS = "localhost,127.0.0.1"
SUSPENDED = lifecycle.SUSPENDED
MAINTENANCE = lifecycle.MAINTENANCE
ACTIVE = lifecycle.ACTIVE
# A warm-pool member's row: listed so its registry may load, never routed.
POOL = "pool"


def normalize_host(host):
    host = (host or "").strip().lower().rstrip(".")
    if host.startswith("["):  # IPv6 literal with a port
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


@dataclass(frozen=True)
class TenantRoute:
    database: str
    state: str
    role: str
    db_host: str | None = None
    db_port: int | None = None
    plan_code: str = ""
    plan_name: str = ""
    limits: dict = field(default_factory=dict)
    modules: tuple = ()
    features: dict = field(default_factory=dict)
    # Its server's streaming replica, for read-only requests (replicas.py).
    replica_host: str | None = None
    replica_port: int | None = None
    replica_max_lag: int = 0
    # Its documented name (<prefix><code>) where the database has another
    # one (a warm-pool member keeps its own); None otherwise.
    alias: str | None = None

    @property
    def suspended(self):
        return self.state == SUSPENDED

    @property
    def in_maintenance(self):
        return self.state == MAINTENANCE


class RoutingMap:
    def __init__(self):
        self._lock = threading.Lock()
        self._version = None
        self._checked_at = 0.0
        self._hosts = {}  # host -> database (platform: only the platform hosts)
        self._tenants = {}  # database -> TenantRoute (tenant runtime only)
        self._pool = {}  # database -> TenantRoute of a ready warm-pool member (never routed)

    # ------------------------------------------------------------- lookups

    def database_for(self, host):
        host = normalize_host(host)
        self.refresh()
        if host not in self._hosts:
            self.refresh(MISS_CHECK_SECONDS)
        return self._hosts.get(host)

    def tenant(self, dbname):
        """The route of tenant database ``dbname``, None if it is not one."""
        self.refresh()
        if dbname not in self._tenants:
            self.refresh(MISS_CHECK_SECONDS)
        return self._tenants.get(dbname)

    def hosts_of(self, dbname):
        """The host names tenant database ``dbname`` is served at (its own
        and its verified custom domains), sorted."""
        self.refresh()
        return sorted(host for host, database in self._hosts.items() if database == dbname)

    def pool_member(self, dbname):
        """The route of a warm-pool database: how to open it, nothing more."""
        self.refresh()
        return self._pool.get(dbname)

    def pool_databases(self):
        self.refresh()
        return sorted(self._pool)

    def cron_databases(self):
        self.refresh()
        if runtime_config.mode() == runtime_config.PLATFORM:
            return [runtime_config.platform_database()]
        return sorted(db for db, route in self._tenants.items() if route.state == ACTIVE)

    # ------------------------------------------------------------- loading

    def refresh(self, max_age=VERSION_CHECK_SECONDS):
        if time.monotonic() - self._checked_at < max_age:
            return
        moved = ()
        with self._lock:
            if time.monotonic() - self._checked_at < max_age:
                return
            try:
                moved = self._reload_if_changed()
            except Exception:
                _logger.warning("routing: cannot read the platform database", exc_info=True)
            self._checked_at = time.monotonic()
        # Outside the map's lock: a thread loading a registry holds the
        # registries' lock and may be waiting for the map's.
        for database in moved:
            _forget_registry(database)

    def _reload_if_changed(self):
        platform = runtime_config.platform_database()
        with sql_db.db_connect(platform).cursor() as cr:
            cr.execute("SELECT last_value, is_called FROM ipai_routing_version")
            version = cr.fetchone()
            if version == self._version:
                return ()
            if runtime_config.mode() == runtime_config.PLATFORM:
                hosts, tenants, pool = self._load_platform(cr, platform), {}, {}
            else:
                hosts, tenants, pool = self._load_tenants(cr)
        moved = _moved_databases(self._tenants, tenants)
        self._hosts, self._tenants, self._pool, self._version = hosts, tenants, pool, version
        _logger.info("routing: %d host names, %d tenant databases", len(hosts), len(tenants))
        return moved

    @staticmethod
    def _load_platform(cr, platform):
        cr.execute(
            "SELECT value FROM ir_config_parameter WHERE key = 'ipai_tenant_core.platform_hosts'"
        )
        row = cr.fetchone()
        names = (row and row[0]) or DEFAULT_PLATFORM_HOSTS
        return {normalize_host(name): platform for name in names.split(",") if name.strip()}

    @staticmethod
    def _load_tenants(cr):
        cr.execute(
            """SELECT host, database_name, state, tenant_role, db_host, db_port,
                      plan_code, plan_name, max_users, max_users_per_company,
                      max_companies, modules, feature_bi,
                      replica_host, replica_port, replica_max_lag,
                      max_mails_day, feature_own_smtp, database_alias
                 FROM ipai_cell_routing"""
        )
        columns = [column[0] for column in cr.description]
        hosts, tenants, pool, refused = {}, {}, {}, set()
        for row in (dict(zip(columns, values, strict=True)) for values in cr.fetchall()):
            database = row["database_name"]
            if row["state"] == POOL:  # no host name: never routed
                pool[database] = TenantRoute(
                    database=database,
                    state=POOL,
                    role=row["tenant_role"],
                    db_host=row["db_host"] or None,
                    db_port=row["db_port"] or None,
                )
                continue
            route = _tenant_route(row)
            # One route per database: a second, different row for it (the
            # platform's constraints and view keep it from existing) is not
            # allowed to replace or shadow the first; the database is served
            # by neither until the platform's data is sound again.
            if tenants.setdefault(database, route) != route:
                refused.add(database)
            host = normalize_host(row["host"])
            if hosts.setdefault(host, database) != database:
                refused.add(hosts[host])
                refused.add(database)
        if refused:
            _logger.error("routing: conflicting routes for %s, not served", sorted(refused))
            hosts = {host: db for host, db in hosts.items() if db not in refused}
            tenants = {db: route for db, route in tenants.items() if db not in refused}
        pool = {db: route for db, route in pool.items() if db not in tenants and db not in refused}
        return hosts, tenants, pool


def _moved_databases(before, after):
    """Databases now opened elsewhere or as another role (a move to another
    database server): what a loaded registry knows of them is stale."""

    def place(route):
        return (route.db_host, route.db_port, route.role)

    return sorted(
        database
        for database, route in after.items()
        if database in before and place(before[database]) != place(route)
    )


def _forget_registry(database):
    """A registry keeps the connection settings it was loaded with (its
    ``sql_db.Connection``): dropped, the next request loads it again from
    the database's new place."""
    from odoo.modules.registry import Registry

    # Not Registry.delete: registry_guard refuses it for another database
    # than the request's, and this runs for whichever request came first.
    with Registry._lock:
        if database in Registry.registries:
            del Registry.registries[database]
            _logger.info("routing: %s moved, its registry is loaded again", database)


def _tenant_route(row):
    return TenantRoute(
        database=row["database_name"],
        state=row["state"],
        role=row["tenant_role"],
        db_host=row["db_host"] or None,
        db_port=row["db_port"] or None,
        plan_code=row["plan_code"] or "",
        plan_name=row["plan_name"] or "",
        limits={
            "users": row["max_users"],
            "users_per_company": row["max_users_per_company"],
            "companies": row["max_companies"],
            "mails_day": row["max_mails_day"] or 0,
        },
        modules=tuple(row["modules"] or ()),
        features={"bi": bool(row["feature_bi"]), "own_smtp": bool(row["feature_own_smtp"])},
        replica_host=row["replica_host"] or None,
        replica_port=row["replica_port"] or None,
        replica_max_lag=row["replica_max_lag"] or 0,
        alias=row["database_alias"] or None,
    )


ROUTES = RoutingMap()
