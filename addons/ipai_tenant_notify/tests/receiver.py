"""A webhook receiver on loopback, in plain Python (no Odoo import): the
notification tests here and the integration tests in the repository's
``tests/`` (which import it as ``odoo.addons.ipai_tenant_notify.tests.receiver``)
share it, so that both check signatures the same way."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Not 127.0.0.1: the platform refuses loopback unless the operator allows a
# host, and the tests allow this one address only.
RECEIVER_ADDRESS = "127.0.0.2"


class WebhookReceiver:
    """An http.server in a thread that checks each delivery's signature as
    docs/notifications.md tells receivers to, and answers the statuses in
    ``statuses`` in turn (then 200). Every request is kept with its headers,
    body, decoded event, the status answered and whether its signature was
    valid for ``secret``."""

    def __init__(self):
        self.requests = []
        self.statuses = []
        self.secret = None
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # http.server calls it by this name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver._record(dict(self.headers), body)
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"receiver down")

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer((RECEIVER_ADDRESS, 0), Handler)
        self.url = f"http://{RECEIVER_ADDRESS}:{self._server.server_port}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def _record(self, headers, body):
        """Keeps the request; returns the status to answer it with."""
        valid = self.verify(headers, body)
        with self._lock:
            status = self.statuses.pop(0) if self.statuses else 200
            self.requests.append(
                {
                    "headers": headers,
                    "body": body,
                    "event": json.loads(body) if body else None,
                    "valid": valid,
                    "status": status,
                }
            )
        return status

    def verify(self, headers, body, tolerance=300):
        timestamp = headers.get("X-Ipai-Timestamp", "")
        if not (self.secret and timestamp.isdigit()):
            return False
        expected = (
            "sha256="
            + hmac.new(
                self.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
            ).hexdigest()
        )
        fresh = abs(time.time() - int(timestamp)) <= tolerance
        return fresh and hmac.compare_digest(expected, headers.get("X-Ipai-Signature", ""))

    def take(self):
        """The requests received since the last call."""
        with self._lock:
            taken, self.requests = self.requests, []
        return taken

    def wait_for(self, predicate, timeout=120, what="deliveries"):
        """The requests received so far, once ``predicate(requests)`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                received = list(self.requests)
            if predicate(received):
                return received
            assert time.monotonic() < deadline, f"no {what} within {timeout}s: {received}"
            time.sleep(0.3)
