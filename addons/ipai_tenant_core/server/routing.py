"""Host-name routing: one Odoo serves the platform and every tenant.

Active when the Odoo configuration names the platform database
(``ipai_platform_db = ipai_platform`` in odoo.conf). Then, for each request:

- ``<code>.<base domain>`` and the tenant's custom domains reach that
  tenant's database, and only it; the platform's own host names reach the
  platform database; any other host reaches no database and gets a plain
  "unknown tenant" answer. Archived tenants and templates are never routed.
- The database is chosen from the Host header alone: ``db_filter`` is
  replaced by a lookup that admits exactly one database per host, so neither
  a session cookie of another tenant nor an ``X-Odoo-Database`` header (nor a
  ``db`` parameter of /web/session/authenticate) can pick another database.
- The database manager and selector (/web/database/...) are never served.
- The host map is read from the platform database and reloaded when its
  ``ipai_routing_version`` sequence moves (tenants and domains bump it), so
  new tenants are reachable without a restart.
- Cron runs for the platform and every active tenant database: in prefork
  mode the cron workers get this list instead of every database of the
  server; in threaded mode (where Odoo only runs crons of loaded registries)
  a keeper thread loads the registries of active tenants.
"""

import logging
import threading
import time

import werkzeug.exceptions
import werkzeug.wrappers
from odoo import http, sql_db
from odoo.service import server as odoo_server
from odoo.tools import config

_logger = logging.getLogger(__name__)

VERSION_CHECK_SECONDS = 1.0
KEEPER_SECONDS = 10
DEFAULT_PLATFORM_HOSTS = "localhost,127.0.0.1"
NEVER_SERVED_PREFIXES = ("/web/database",)


def platform_database():
    return config.get("ipai_platform_db") or None


def normalize_host(host):
    host = (host or "").strip().lower()
    if host.startswith("["):  # IPv6 literal with a port
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class HostMap:
    """Host name -> database, loaded from the platform database."""

    def __init__(self):
        self._lock = threading.Lock()
        self._hosts = {}
        self._cron_databases = []
        self._version = None
        self._checked_at = 0.0

    def database_for(self, host):
        self._refresh()
        return self._hosts.get(normalize_host(host))

    def cron_databases(self):
        self._refresh()
        return list(self._cron_databases)

    def _refresh(self):
        if time.monotonic() - self._checked_at < VERSION_CHECK_SECONDS:
            return
        with self._lock:
            if time.monotonic() - self._checked_at < VERSION_CHECK_SECONDS:
                return
            try:
                self._reload_if_changed(platform_database())
            except Exception:
                _logger.warning("tenant routing: cannot read the platform database", exc_info=True)
            self._checked_at = time.monotonic()

    def _reload_if_changed(self, platform):
        with sql_db.db_connect(platform).cursor() as cr:
            cr.execute("SELECT last_value, is_called FROM ipai_routing_version")
            version = cr.fetchone()
            if version == self._version:
                return
            cr.execute(
                """SELECT key, value FROM ir_config_parameter
                    WHERE key IN ('ipai_tenant_core.base_domain',
                                  'ipai_tenant_core.platform_hosts')"""
            )
            params = dict(cr.fetchall())
            cr.execute(
                """SELECT t.code, t.database_name, t.state, d.name
                     FROM ipai_tenant t
                     LEFT JOIN ipai_tenant_domain d ON d.tenant_id = t.id
                    WHERE t.state IN ('active', 'suspended') AND t.database_name IS NOT NULL"""
            )
            rows = cr.fetchall()
        base_domain = params.get("ipai_tenant_core.base_domain") or "localhost"
        platform_hosts = params.get("ipai_tenant_core.platform_hosts") or DEFAULT_PLATFORM_HOSTS
        hosts = {normalize_host(h): platform for h in platform_hosts.split(",") if h.strip()}
        cron = {platform}
        for code, database, state, custom_domain in rows:
            hosts[f"{code}.{base_domain}"] = database
            if custom_domain:
                hosts[normalize_host(custom_domain)] = database
            if state == "active":
                cron.add(database)
        self._hosts, self._cron_databases, self._version = hosts, sorted(cron), version
        _logger.info("tenant routing: %d host names, %d cron databases", len(hosts), len(cron))


HOSTS = HostMap()


def _request_host():
    request = http.request
    return request.httprequest.environ.get("HTTP_HOST") if request else None


def _routed_db_filter(original):
    def db_filter(dbs, host=None):
        if not platform_database():
            return original(dbs, host=host)
        target = HOSTS.database_for(host if host is not None else _request_host())
        return [db for db in dbs if db == target]

    return db_filter


def _not_found(message):
    return werkzeug.wrappers.Response(
        f"<!DOCTYPE html><title>Unknown tenant</title><h1>Unknown tenant</h1><p>{message}</p>",
        status=404,
        content_type="text/html; charset=utf-8",
    )


def _routed_serve_nodb(original):
    def _serve_nodb(self):
        if platform_database() and self.httprequest.path != "/web/health":
            return _not_found("No workspace answers at this address.")
        return original(self)

    return _serve_nodb


def _guarded_application(original):
    def __call__(self, environ, start_response):
        if platform_database() and environ.get("PATH_INFO", "").startswith(NEVER_SERVED_PREFIXES):
            return werkzeug.exceptions.NotFound()(environ, start_response)
        return original(self, environ, start_response)

    return __call__


def _routed_cron_db_list(original):
    def _db_list(self):
        if not platform_database():
            return original(self)
        return HOSTS.cron_databases()

    return _db_list


def _keep_registries_loaded():
    """Threaded mode only runs the crons of loaded registries: load those of
    the active tenants, and of new ones as they appear."""
    from odoo.modules.registry import Registry

    while True:
        for dbname in HOSTS.cron_databases():
            if dbname not in Registry.registries:
                try:
                    Registry(dbname)
                    _logger.info("registry keeper: loaded %s so that its crons run", dbname)
                except Exception:
                    _logger.warning("cannot load the registry of %s", dbname, exc_info=True)
        time.sleep(KEEPER_SECONDS)


def _cron_spawn_with_keeper(original):
    def cron_spawn(self):
        original(self)
        if platform_database() and config["max_cron_threads"]:
            threading.Thread(
                target=_keep_registries_loaded, name="ipai.registry_keeper", daemon=True
            ).start()

    return cron_spawn


def install():
    if getattr(http.db_filter, "_ipai_routed", False):
        return
    http.db_filter = _routed_db_filter(http.db_filter)
    http.db_filter._ipai_routed = True
    http.Request._serve_nodb = _routed_serve_nodb(http.Request._serve_nodb)
    http.Application.__call__ = _guarded_application(http.Application.__call__)
    odoo_server.WorkerCron._db_list = _routed_cron_db_list(odoo_server.WorkerCron._db_list)
    odoo_server.ThreadedServer.cron_spawn = _cron_spawn_with_keeper(
        odoo_server.ThreadedServer.cron_spawn
    )
