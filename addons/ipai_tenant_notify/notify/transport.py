"""One HTTP POST of a delivery: always with a timeout, never following a
redirect (a receiver cannot bounce the platform's request elsewhere), and
the outcome reduced to what the delivery log keeps."""

import time
from dataclasses import dataclass

import requests

# Seconds to connect, then between two bytes of the answer: a receiver
# that hangs costs the delivery cron this much, then counts as a failure.
TIMEOUT = 10
USER_AGENT = "ipai-webhooks/1.0"
KEPT_RESPONSE_CHARS = 500


@dataclass
class Outcome:
    ok: bool
    status_code: int
    error: str
    duration_ms: int


def post(url, body, headers):
    started = time.monotonic()
    try:
        response = requests.post(
            url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
            timeout=TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        return Outcome(False, 0, f"{type(exc).__name__}: {exc}"[:KEPT_RESPONSE_CHARS], _ms(started))
    ok = 200 <= response.status_code < 300
    error = "" if ok else f"HTTP {response.status_code}: {response.text[:KEPT_RESPONSE_CHARS]}"
    return Outcome(ok, response.status_code, error, _ms(started))


def _ms(started):
    return int((time.monotonic() - started) * 1000)
