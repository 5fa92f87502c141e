"""Host-name routing for both runtimes.

For each request the database comes from the Host header alone:

- control plane: the platform host names reach the platform database; every
  other host reaches nothing (the tenant runtime serves tenants);
- tenant runtime: ``<code>.<base domain>`` and the tenant's custom domains
  reach that tenant's database, and only it; any other host reaches nothing.

``db_filter`` and ``db_list`` are replaced by a lookup that admits exactly
one database per host, so neither a session cookie of another database, an
``X-Odoo-Database`` header, the ``db`` of /web/session/authenticate nor the
database argument of /jsonrpc and /xmlrpc can pick another one; those RPC
calls are refused before any registry is loaded. The database manager is
never served, and Odoo never lists the cluster's databases.

A suspended tenant is refused here, from the platform's view, before its
database is even opened: nothing its admin changes inside it lifts that. A
tenant in maintenance (a restore or an upgrade at work) gets a maintenance
page the same way; only the control plane's smoke check, which proves with a
token derived for that database that it comes from the platform, passes.

Crons: each runtime runs those of its own databases (the platform, or the
active tenants); in threaded mode, where Odoo only runs the crons of loaded
registries, a keeper thread loads them.
"""

import functools
import hmac
import html
import json
import logging
import threading
import time

import werkzeug.exceptions
import werkzeug.urls
import werkzeug.wrappers
from odoo import http
from odoo.exceptions import AccessDenied
from odoo.service import server as odoo_server
from odoo.tools import config

from . import connections, credentials, patching, runtime_config
from .routing_map import ROUTES

_logger = logging.getLogger(__name__)

KEEPER_SECONDS = 10
NEVER_SERVED_PREFIXES = ("/web/database",)
# Asked by the reverse proxy before it gets a TLS certificate for a host
# (Caddy's on-demand TLS "ask"): only the hosts this runtime routes.
TLS_ASK_PATH = "/ipai/tls-ask"
ALWAYS_SERVED_PATHS = ("/web/health",)
# What Odoo's proxy_mode (werkzeug's ProxyFix) believes about the client: its
# address, scheme and host. Believed from the reverse proxy only.
FORWARDED_HEADERS = (
    "HTTP_FORWARDED",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PREFIX",
    "HTTP_X_FORWARDED_PROTO",
)
# RPC methods that name no database and reveal nothing.
RPC_WITHOUT_DATABASE = {("common", "version"), ("common", "about"), ("db", "server_version")}


def routed():
    return runtime_config.mode() is not None


def _request_host():
    request = http.request
    return request.httprequest.environ.get("HTTP_HOST") if request else None


def _host_database(host=None):
    return ROUTES.database_for(host if host is not None else _request_host())


def _routed_db_filter(original):
    def db_filter(dbs, host=None):
        if not routed():
            return original(dbs, host=host)
        target = _host_database(host)
        return [db for db in dbs if db == target]

    return db_filter


def _routed_db_list(original):
    def db_list(force=False, host=None):
        if not routed():
            return original(force, host)
        # Never list the cluster: the host names its one database.
        target = _host_database(host)
        return [target] if target else []

    return db_list


def _page(title, message, status):
    return werkzeug.wrappers.Response(
        f"<!DOCTYPE html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(message)}</p>",
        status=status,
        content_type="text/html; charset=utf-8",
    )


def _rpc_error(message, status=200):
    body = {
        "jsonrpc": "2.0",
        "id": None,
        "error": {
            "code": 403,
            "message": "Odoo Server Error",
            "data": {"name": "odoo.exceptions.AccessDenied", "message": message},
        },
    }
    return werkzeug.wrappers.Response(
        json.dumps(body), status=status, content_type="application/json"
    )


def _routed_serve_nodb(original):
    def _serve_nodb(self):
        if routed() and self.httprequest.path not in ALWAYS_SERVED_PATHS:
            return _page("Unknown tenant", "No workspace answers at this address.", 404)
        return original(self)

    return _serve_nodb


def suspended_message(route):
    return (
        f"This workspace is suspended (plan {route.plan_name or route.plan_code}). "
        "Your data is kept; please contact your provider to reactivate it."
    )


MAINTENANCE_MESSAGE = (
    "This workspace is being restored or upgraded and is back in a few minutes. "
    "Nothing you saved is lost."
)


def _smoke_check(request, dbname):
    token = request.httprequest.headers.get(credentials.SMOKE_CHECK_HEADER, "")
    return bool(token) and hmac.compare_digest(token, credentials.smoke_check_token(dbname))


def _gated_serve_db(original):
    def _serve_db(self):
        if runtime_config.mode() == runtime_config.TENANT:
            route = ROUTES.tenant(self.db)
            if route is None:  # went away since the host was looked up
                return _page("Unknown tenant", "No workspace answers at this address.", 404)
            if (
                route.in_maintenance
                and self.httprequest.path not in ALWAYS_SERVED_PATHS
                and not _smoke_check(self, self.db)
            ):
                if self.httprequest.mimetype == "application/json":
                    return _rpc_error(MAINTENANCE_MESSAGE)
                response = _page("Workspace under maintenance", MAINTENANCE_MESSAGE, 503)
                response.headers["Retry-After"] = "60"
                return response
            if route.suspended and self.httprequest.path not in ALWAYS_SERVED_PATHS:
                if self.httprequest.mimetype == "application/json":
                    return _rpc_error(suspended_message(route))
                return _page("Workspace suspended", suspended_message(route), 503)
        return original(self)

    return _serve_db


def _tls_ask(environ, start_response):
    if not runtime_config.is_proxy_address(environ.get("REMOTE_ADDR")):
        # Only the proxy asks; anyone else would learn which hosts exist.
        start_response("403 Forbidden", [("Content-Type", "text/plain")])
        return [b"403 Forbidden"]
    query = werkzeug.urls.url_decode(environ.get("QUERY_STRING", ""))
    known = bool(query.get("domain")) and ROUTES.database_for(query["domain"]) is not None
    status = "200 OK" if known else "404 Not Found"
    start_response(status, [("Content-Type", "text/plain")])
    return [status.encode()]


def _ignore_forwarded_headers_of_others(environ):
    """proxy_mode takes X-Forwarded-* from whoever connects: a client reaching
    a runtime's port directly could claim any address, scheme or host. Only
    the reverse proxy (ipai_proxy_addresses, judged by the TCP peer) is
    believed; it drops whatever a client sent it and sets its own."""
    sent = [key for key in FORWARDED_HEADERS if key in environ]
    if sent and not runtime_config.is_proxy_address(environ.get("REMOTE_ADDR")):
        for key in sent:
            del environ[key]


def _guarded_application(original):
    def __call__(self, environ, start_response):
        if routed():
            _ignore_forwarded_headers_of_others(environ)
        path = environ.get("PATH_INFO", "")
        if routed() and path.startswith(NEVER_SERVED_PREFIXES):
            return werkzeug.exceptions.NotFound()(environ, start_response)
        if runtime_config.mode() == runtime_config.TENANT and path == TLS_ASK_PATH:
            return _tls_ask(environ, start_response)
        return original(self, environ, start_response)

    return __call__


def host_database_named(name, host_db):
    """The host's database if ``name`` names it: by its own name or, for a
    database stored under another (a warm-pool member keeps its name), by
    its documented one (``odoo_<code>``). None for any other name."""
    if not host_db or not isinstance(name, str):
        return None
    if name == host_db:
        return host_db
    route = ROUTES.tenant(host_db)
    return host_db if route is not None and route.alias == name else None


def _host_bound_dispatch_rpc(original):
    """/jsonrpc and /xmlrpc name their database in the call itself: only the
    host's database is accepted (by either of its names), checked before any
    registry is loaded."""

    def dispatch_rpc(service_name, method, params):
        if routed() and (service_name, method) not in RPC_WITHOUT_DATABASE:
            request = http.request
            host_db = request.db if request else None
            named = host_database_named(params[0], host_db) if params else None
            if service_name == "db" or named is None:
                # Refused before any registry exists: no env to translate with.
                raise AccessDenied("This address serves no such database.")  # pylint: disable=translation-required
            params = [named, *params[1:]]
        return original(service_name, method, params)

    return dispatch_rpc


def _documented_name_accepted(original):
    """/web/session/authenticate names its database too (JSON-RPC clients,
    the mobile apps): the documented name is taken for the stored one; any
    other name is left for Odoo to refuse (db_filter admits the host's)."""

    @functools.wraps(original)
    def authenticate(self, db, *args, **kwargs):
        if routed():
            db = host_database_named(db, http.request.db) or db
        return original(self, db, *args, **kwargs)

    return authenticate


def _routed_cron_db_list(original):
    def _db_list(self):
        if not routed():
            return original(self)
        # Only the cron worker asks: it visits each tenant once a pass.
        connections.open_tenants_directly()
        return ROUTES.cron_databases()

    return _db_list


def _keep_registries_loaded():
    """Threaded mode only runs the crons of loaded registries: load those of
    this runtime's databases, and of new ones as they appear."""
    from odoo.modules.registry import Registry

    while True:
        for dbname in ROUTES.cron_databases():
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
        if routed() and config["max_cron_threads"]:
            threading.Thread(
                target=_keep_registries_loaded, name="ipai.registry_keeper", daemon=True
            ).start()

    return cron_spawn


def install():
    # Odoo picks a request's database with these two: the host alone decides.
    patching.patch(http, "db_filter", _routed_db_filter)
    patching.patch(http, "db_list", _routed_db_list)
    # RPC names its database in the call, past db_filter.
    patching.patch(http, "dispatch_rpc", _host_bound_dispatch_rpc)
    # /jsonrpc and /xmlrpc imported the function by name: their copy is
    # bound to the host the same way (a no-op if they imported it patched).
    from odoo.addons.base.controllers import rpc

    patching.patch(rpc, "dispatch_rpc", _host_bound_dispatch_rpc)
    # functools.wraps keeps the route's definition (original_routing), read
    # when each database's routing map is built, after this patch.
    from odoo.addons.web.controllers import session

    patching.patch(session.Session, "authenticate", _documented_name_accepted)
    # A host that routes nowhere: a plain page, never the database selector.
    patching.patch(http.Request, "_serve_nodb", _routed_serve_nodb)
    # Suspension and maintenance, from the platform's view, before the
    # tenant's database is used.
    patching.patch(http.Request, "_serve_db", _gated_serve_db)
    # Before any routing (and before proxy_mode reads X-Forwarded-*): forwarded
    # headers from the proxy only, the database manager, the proxy's TLS question.
    patching.patch(http.Application, "__call__", _guarded_application)
    # Crons: this runtime's databases, not every database Odoo can list.
    patching.patch(odoo_server.WorkerCron, "_db_list", _routed_cron_db_list)
    patching.patch(odoo_server.ThreadedServer, "cron_spawn", _cron_spawn_with_keeper)
