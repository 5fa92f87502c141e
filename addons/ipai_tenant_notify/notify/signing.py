"""The signature of a webhook delivery, as a receiver verifies it.

    X-Ipai-Timestamp: <unix seconds when sent>
    X-Ipai-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

The timestamp is inside the signed text, so a captured delivery cannot be
replayed later with a fresh timestamp; receivers refuse timestamps older
than a few minutes (``verify``'s ``tolerance``).
"""

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Ipai-Signature"
TIMESTAMP_HEADER = "X-Ipai-Timestamp"
SCHEME = "sha256="


def signature(secret, timestamp, body):
    """``body`` is the exact bytes sent."""
    signed = str(int(timestamp)).encode() + b"." + body
    return SCHEME + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def headers(secret, body, now=None):
    timestamp = int(now if now is not None else time.time())
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(secret, body, timestamp, received_signature, tolerance=300, now=None):
    """True when ``received_signature`` signs ``body`` at ``timestamp`` and
    the timestamp is within ``tolerance`` seconds of now."""
    try:
        timestamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), received_signature or "")
