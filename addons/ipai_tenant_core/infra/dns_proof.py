"""Proof that a tenant owns a custom domain: a DNS TXT record.

The tenant publishes ``ipai-verify=<token>`` at ``_ipai-verify.<domain>``;
the platform looks it up with dnspython, through the resolver configured in
``ipai_tenant_core.dns_resolver`` (``host`` or ``host:port``; empty: the
system's), with a timeout. Until then the domain is not routed.
"""

import dns.exception
import dns.resolver

RECORD_PREFIX = "_ipai-verify."
VALUE_PREFIX = "ipai-verify="
TIMEOUT_SECONDS = 5.0


def record_name(domain):
    return RECORD_PREFIX + domain


def expected_value(token):
    return VALUE_PREFIX + token


def _resolver(nameserver):
    if not nameserver:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        host, _, port = nameserver.partition(":")
        resolver.nameservers = [host]
        resolver.port = int(port or 53)
    resolver.lifetime = resolver.timeout = TIMEOUT_SECONDS
    return resolver


def txt_values(domain, nameserver=None):
    """The TXT strings published at the domain's verification name; an
    empty list when there is none (or no answer in time)."""
    try:
        answer = _resolver(nameserver).resolve(record_name(domain), "TXT")
    except (dns.exception.DNSException, OSError):
        return []
    return [b"".join(rdata.strings).decode(errors="replace") for rdata in answer]


def is_proven(domain, token, nameserver=None):
    return expected_value(token) in txt_values(domain, nameserver)
