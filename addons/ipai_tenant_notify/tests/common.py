"""Fixtures of the notification tests: a real HTTP receiver on loopback that
checks each delivery's signature the way docs/notifications.md tells
receivers to, and answers with the statuses a test scripts."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from odoo.addons.ipai_tenant_core.tests.common import TenantCase

from ..notify import outbound

RECEIVER_ADDRESS = "127.0.0.2"


class WebhookReceiver:
    """``statuses`` are answered in turn (then 200); every request is kept
    with whether its signature was valid for ``secret``."""

    def __init__(self):
        self.requests = []
        self.statuses = []
        self.secret = None
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # http.server calls it by this name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver._record(dict(self.headers), body)
                with receiver._lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"receiver down")

            def log_message(self, *args):
                pass

        # Not 127.0.0.1: the platform refuses loopback unless the operator
        # allows a host, and the tests allow this one address only.
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
        timestamp = headers.get("X-Ipai-Timestamp", "")
        valid = False
        if self.secret and timestamp.isdigit():
            expected = (
                "sha256="
                + hmac.new(
                    self.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
                ).hexdigest()
            )
            valid = hmac.compare_digest(expected, headers.get("X-Ipai-Signature", "")) and (
                abs(time.time() - int(timestamp)) <= 300
            )
        with self._lock:
            self.requests.append({"headers": headers, "body": body, "valid": valid})

    def take(self):
        with self._lock:
            taken, self.requests = self.requests, []
        return taken

    @staticmethod
    def event(request):
        return json.loads(request["body"])


class NotifyCase(TenantCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = WebhookReceiver().start()
        cls.addClassCleanup(cls.receiver.stop)
        # Earlier webhooks of this database are not part of these tests.
        cls.env["ipai.webhook"].search([]).active = False
        cls.params = cls.env["ir.config_parameter"].sudo()
        cls.params.set_param("ipai_tenant_notify.retry_base_seconds", "30")
        cls.params.set_param(outbound.ALLOW_HOSTS_PARAM, RECEIVER_ADDRESS)
        cls.Webhook = cls.env["ipai.webhook"]
        cls.Delivery = cls.env["ipai.webhook.delivery"]

    def setUp(self):
        super().setUp()
        self.receiver.take()
        self.receiver.statuses = []

    def make_webhook(self, owner=None, **values):
        values.setdefault("name", "test hook")
        values.setdefault("url", self.receiver.url)
        webhook = self.Webhook.create({"owner_id": (owner or self.platform).id, **values})
        self.receiver.secret = webhook._secret()
        return webhook

    def fan_out(self):
        """What the delivery cron does first: the recorded events become
        deliveries."""
        self.env["ipai.webhook.event"]._fan_out()
        self.env.invalidate_all()

    def topics(self, webhook):
        self.fan_out()
        return webhook.delivery_ids.sorted("id").mapped("topic")

    def deliver(self):
        self.Delivery._deliver_due()
        self.env.invalidate_all()
        return self.receiver.take()

    @staticmethod
    def due_now(deliveries):
        """What waiting for the backoff would do, without waiting."""
        deliveries.sudo().write({"next_attempt_at": "2000-01-01 00:00:00"})
