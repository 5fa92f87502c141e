"""One HTTP POST of a delivery: always with a timeout, never following a
redirect (a receiver cannot bounce the platform's request elsewhere), to the
address ``outbound.vet`` approved (a name that resolves elsewhere a moment
later changes nothing), and the outcome reduced to what the delivery log
keeps: the status code and the kind of failure, never the answer's body
(which would make the log a reader of whatever the URL points at)."""

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import urllib3

from . import outbound

# Seconds to connect, then between two bytes of the answer: a receiver
# that hangs costs the delivery cron this much, then counts as a failure.
TIMEOUT = 10
USER_AGENT = "ipai-webhooks/1.0"


@dataclass
class Outcome:
    ok: bool
    status_code: int
    error: str
    duration_ms: int


def post(url, body, headers, allow_list=frozenset(), refused_hosts=frozenset()):
    started = time.monotonic()
    try:
        addresses = outbound.vet(url, allow_list, refused_hosts)
    except outbound.RefusedDestination as exc:
        return Outcome(False, 0, f"refused: {exc}", _ms(started))
    parts = urlsplit(url)
    try:
        status = _post_to(addresses[0], parts, body, headers)
    except urllib3.exceptions.HTTPError as exc:
        return Outcome(False, 0, type(exc).__name__, _ms(started))
    ok = 200 <= status < 300
    return Outcome(ok, status, "" if ok else f"HTTP {status}", _ms(started))


def _post_to(address, parts, body, headers):
    """POST to ``address`` as ``parts`` names it: Host header and, over
    HTTPS, the certificate checked for the URL's host name, not the address."""
    options = {"timeout": urllib3.Timeout(connect=TIMEOUT, read=TIMEOUT), "retries": False}
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            parts.port or 443,
            server_hostname=parts.hostname,
            assert_hostname=parts.hostname,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            **options,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, parts.port or 80, **options)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    with pool:
        response = pool.urlopen(
            "POST",
            path,
            body=body,
            headers={
                "Host": parts.netloc,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                **headers,
            },
            redirect=False,
            preload_content=False,
        )
        status = response.status
        response.close()  # the answer's body is never read
    return status


def _ms(started):
    return int((time.monotonic() - started) * 1000)
