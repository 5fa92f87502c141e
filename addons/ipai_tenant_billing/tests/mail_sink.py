"""An SMTP server on loopback, in plain Python (no Odoo import): the billing
tests here and the integration tests in the repository's ``tests/`` (which
import it as ``odoo.addons.ipai_tenant_billing.tests.mail_sink``) share it."""

import email
import email.policy
import socket
import threading
import time
from contextlib import closing

from aiosmtpd.controller import Controller


def free_port():
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 keeping every message it receives."""

    def __init__(self):
        self.messages = []
        self._lock = threading.Lock()
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it by this name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def start(self):
        self._controller.start()
        return self

    def stop(self):
        self._controller.stop()

    def take(self):
        """The messages received since the last call."""
        with self._lock:
            taken, self.messages = self.messages, []
        return taken

    def wait_for(self, recipient, flush, timeout=60):
        """The first message to ``recipient``, calling ``flush()`` (which
        sends the platform's mail queue) until it arrives."""
        deadline = time.monotonic() + timeout
        while True:
            flush()
            with self._lock:
                for rcpt_tos, message in self.messages:
                    if recipient in rcpt_tos:
                        return message
            assert time.monotonic() < deadline, f"no mail to {recipient} within {timeout}s"
            time.sleep(0.3)
