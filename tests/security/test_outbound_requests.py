"""The platform as a request forger: a provider manager points webhooks and
Slack at the platform's own network. Every spelling of a loopback, private or
link-local address is refused when saved; a row forced in behind the ORM is
refused when a request would be sent (the listener gets nothing), and the
delivery log never holds what an answer said."""

import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from ..support import RpcError, provider_with_manager, query

FORBIDDEN_URLS = [
    "http://127.0.0.1:8069/web/login",
    "http://localhost:5432/",
    "http://10.0.0.1/hook",
    "http://172.16.5.4/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:8070/",
    "http://[::ffff:127.0.0.1]/",
    "http://[fd00::1]/",
    "http://2130706433/",
    "http://0x7f.0.0.1/",
    "http://0177.0.0.1/",
    "http://0.0.0.0:8088/",
    "http://127.1/",
    "ftp://example.com/hook",
    "http://user:secret@example.com/hook",
    "file:///etc/passwd",
]


@pytest.fixture(scope="module")
def manager(admin_rpc, platform_server):
    provider_id, rpc = provider_with_manager(
        admin_rpc, platform_server, "or-prov", "OR Provider", "or-manager"
    )
    return rpc, provider_id


def webhook_rows(platform_db):
    return query(platform_db, "SELECT id, url, kind FROM ipai_webhook ORDER BY id")


@pytest.mark.parametrize("kind", ["webhook", "slack"])
def test_private_destinations_are_refused_when_saved(manager, platform_db, kind):
    rpc, provider_id = manager
    before = webhook_rows(platform_db)
    for url in FORBIDDEN_URLS:
        with pytest.raises(
            RpcError, match=r"(?i)not a public address|not an http|user name|own host"
        ) as error:
            rpc.call(
                "ipai.webhook",
                "create",
                {"name": "probe", "owner_id": provider_id, "url": url, "kind": kind},
            )
        assert error.value.name == "odoo.exceptions.ValidationError", url
    own = rpc.call(
        "ipai.webhook",
        "create",
        {"name": "mine", "owner_id": provider_id, "url": "https://hooks.example/x", "kind": kind},
    )
    for url in FORBIDDEN_URLS[:4]:
        with pytest.raises(RpcError, match=r"(?i)not a public address|own host"):
            rpc.call("ipai.webhook", "write", [own], {"url": url})
    after = webhook_rows(platform_db)
    assert [row for row in after if row not in before] == [(own, "https://hooks.example/x", kind)]


class Listener:
    """A service of the platform's network (on loopback) that must never
    hear from the platform, however a webhook is made to point at it."""

    def __init__(self):
        listener = self
        self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                listener.hits.append(self.path)
                self.send_response(500)
                self.end_headers()
                self.wfile.write(b"internal secret: s3cr3t-banner")

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/internal"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_a_forced_private_url_gets_no_request_and_no_answer_is_logged(manager, platform_db):
    rpc, provider_id = manager
    listener = Listener()
    hook = rpc.call(
        "ipai.webhook",
        "create",
        {"name": "forced", "owner_id": provider_id, "url": "https://hooks.example/forced"},
    )
    # Behind the ORM's back (a bug, a restored old row): the send re-checks.
    query(platform_db, "UPDATE ipai_webhook SET url = %s WHERE id = %s", [listener.url, hook])
    rpc.call("ipai.webhook", "action_send_test", [hook])
    deadline = time.monotonic() + 60
    attempts = []
    while not attempts and time.monotonic() < deadline:
        time.sleep(0.5)
        attempts = query(
            platform_db,
            "SELECT success, status_code, error FROM ipai_webhook_attempt WHERE webhook_id = %s",
            [hook],
        )
    listener.server.shutdown()
    assert attempts, "the delivery cron tried the webhook"
    success, status, error = attempts[0]
    assert (success, status) == (False, 0)
    assert error.startswith("refused:"), error
    assert listener.hits == []
    assert not query(platform_db, "SELECT 1 FROM ipai_webhook_attempt WHERE error LIKE '%s3cr3t%'")
