"""Where the platform may send a request a customer asked for.

A webhook or Slack URL is chosen by a provider's staff, and the platform
posts to it from inside its own network: pointed at 127.0.0.1:5432, the
metadata service at 169.254.169.254 or a private address, the platform would
be a port scanner (and, were answers kept, a reader) for whoever set it.

So a URL is vetted by the addresses its host resolves to, not by how it is
spelled (``2130706433``, ``0x7f.1``, ``[::ffff:127.0.0.1]`` or a DNS name
pointing at loopback all resolve to loopback): every address must be a
public one, and the request then goes to the address that was vetted, so a
name that resolves differently a moment later (DNS rebinding) changes
nothing. The operator can allow hosts of their own network by name or
address (``ipai_tenant_notify.outbound_allow_hosts``: ``host`` or
``host:port``, comma-separated); only settings administrators write it.

Plain Python (no ORM): the model checks a URL when it is stored, the
transport again before every request.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

ALLOW_HOSTS_PARAM = "ipai_tenant_notify.outbound_allow_hosts"
DEFAULT_PORTS = {"http": 80, "https": 443}


class RefusedDestination(ValueError):
    """A URL the platform will not send a request to; the message says why."""


class Unresolvable(RefusedDestination):
    """A host name that does not resolve (now): nothing to send to, and
    nothing to judge yet when the URL is saved before its DNS exists."""


def parse_allow_list(value):
    return {entry.strip().lower() for entry in (value or "").split(",") if entry.strip()}


def vet(url, allow_list=frozenset(), refused_hosts=frozenset()):
    """The addresses ``url`` may be reached at (connect to the first), or
    RefusedDestination. ``refused_hosts``: the platform's own host names."""
    parts = urlsplit(url or "")
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise RefusedDestination(f"{url or '(empty)'} is not an http(s) URL.")
    if parts.username is not None or parts.password is not None:
        raise RefusedDestination("A URL with a user name or password in it is refused.")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError as exc:
        raise RefusedDestination(f"{url} has no valid port.") from exc
    host = parts.hostname.lower().rstrip(".")
    addresses = _resolve(host, port)
    if {host, f"{host}:{port}"} & allow_list or any(
        {address, f"{address}:{port}"} & allow_list for address in addresses
    ):
        return addresses
    if host in refused_hosts:
        raise RefusedDestination(f"{host} is one of the platform's own host names.")
    for address in addresses:
        if not is_public(address):
            raise RefusedDestination(
                f"{host} resolves to {address}, which is not a public address; "
                "the platform sends no request into its own or a private network."
            )
    return addresses


def _resolve(host, port):
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolvable(f"{host} does not resolve.") from exc
    addresses = []
    for info in infos:
        if info[4][0] not in addresses:
            addresses.append(info[4][0])
    return addresses


def is_public(address):
    """Whether ``address`` is on the public internet: not loopback, private,
    link-local, shared (CGNAT), reserved, multicast or unspecified, also when
    written as an IPv4 address inside IPv6."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6:
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo and ip.teredo[1])
        if embedded:
            ip = embedded
    return ip.is_global and not ip.is_multicast
