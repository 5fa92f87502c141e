"""The few options that tell a process which runtime it is."""

import ipaddress
import socket
import time

from odoo.addons.ipai_platform_rules import cells
from odoo.tools import config

from . import credentials

PLATFORM = "platform"
TENANT = "tenant"
DEFAULT_RUNTIME_ROLE = cells.LEGACY_ROUTING_ROLE
# The shared session store of a cell's nodes (OCA session_db): a database
# of its own, opened by a login role of the same name.
DEFAULT_SESSION_STORE = cells.LEGACY_SESSION_STORE


def mode():
    value = config.get("ipai_runtime") or None
    return value if value in (PLATFORM, TENANT) else None


def platform_database():
    return config.get("ipai_platform_db") or None


def runtime_role():
    """The routing role of this node's cell (SELECT on its own routes, nothing else)."""
    return config.get("ipai_runtime_role") or cells.routing_role(credentials.own_cell())


def session_store():
    """The database of this node's cell's sessions, also its login role's name."""
    return config.get("ipai_session_db") or cells.session_store(credentials.own_cell())


# PgBouncer in front of a database server: "server=pooler" entries, each a
# host:port, comma-separated (the server as the routing view names it, or
# db_host:db_port for the tenants on the default server). The tenant runtime
# opens tenant databases, and the platform database, through the pooler of
# their server; a server without one is reached directly.
DEFAULT_DB_PORT = 5432


def _address(text):
    host, _, port = text.strip().rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"ipai_db_poolers: {text.strip()!r} is not host:port")
    return host, int(port)


def db_poolers():
    """{(server host, server port): (pooler host, pooler port)}; a malformed
    entry is an error at start, never a silent direct connection."""
    poolers = {}
    for entry in (config.get("ipai_db_poolers") or "").split(","):
        if not entry.strip():
            continue
        server, separator, pooler = entry.partition("=")
        if not separator:
            raise ValueError(f"ipai_db_poolers: {entry.strip()!r} is not server=pooler")
        poolers[_address(server)] = _address(pooler)
    return poolers


def pooler_for(host, port):
    """The (host, port) of the pooler of the server ``host:port``, or None."""
    poolers = db_poolers()
    if not poolers:
        return None
    host = host or config.get("db_host") or "127.0.0.1"
    return poolers.get((host, int(port or config.get("db_port") or DEFAULT_DB_PORT)))


# The reverse proxy's addresses: who may ask the tenant runtime whether it
# routes a host (on-demand TLS), and whose X-Forwarded-* headers either
# runtime believes. Addresses, networks or host names (resolved when asked,
# as a container name is), comma-separated.
DEFAULT_PROXY_ADDRESSES = "127.0.0.1,::1"
# A name is resolved again after this long (a proxy container restarted with
# another address), not on every request.
RESOLVE_SECONDS = 30
_resolved = {}


def proxy_addresses():
    value = config.get("ipai_proxy_addresses") or DEFAULT_PROXY_ADDRESSES
    return [entry.strip() for entry in value.split(",") if entry.strip()]


def is_proxy_address(address):
    """Whether ``address`` (the TCP peer, never a forwarded header) is the proxy's."""
    try:
        peer = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    for entry in proxy_addresses():
        try:
            if peer in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            if str(peer) in _addresses_of(entry):
                return True
    return False


def _addresses_of(name):
    now = time.monotonic()
    expires, addresses = _resolved.get(name, (0, ()))
    if expires <= now:
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(name, None)}
        except OSError:
            addresses = set()  # a name that does not resolve here names nobody
        _resolved[name] = (now + RESOLVE_SECONDS, addresses)
    return addresses
