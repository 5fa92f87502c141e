"""The cell's mail policy service (scripts/mail_policy.py) without a
database: its decisions on a real SQLite ledger, and its protocol as
Postfix speaks it, over a real socket."""

import asyncio
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import mail_policy


class FixedRoutes:
    def __init__(self, hosts):
        self.hosts = hosts

    def of(self, host):
        return self.hosts.get(host)


HOSTS = {
    "acme.localhost": ("odoo_acme", 3, "Starter"),
    "shop.acme.example": ("odoo_acme", 3, "Starter"),  # its custom domain
    "big.localhost": ("odoo_big", 0, "Unlimited"),
}


@pytest.fixture
def policy(tmp_path):
    day = {"today": "2026-12-05"}
    ledger = mail_policy.Ledger(tmp_path / "sent.sqlite3")
    decider = mail_policy.Policy(FixedRoutes(HOSTS), ledger, today=lambda: day["today"])
    decider.day = day
    return decider


def end_of_message(sender, count):
    return {"protocol_state": "END-OF-MESSAGE", "sender": sender, "recipient_count": str(count)}


def test_a_tenant_sends_up_to_its_plans_limit_in_a_day_then_is_refused(policy):
    assert policy.decide(end_of_message("sales@acme.localhost", 2)) == "DUNNO"
    assert policy.decide(end_of_message("bounce@acme.localhost", 1)) == "DUNNO"
    refused = policy.decide(end_of_message("sales@acme.localhost", 1))
    assert refused.startswith("550 5.4.5 acme.localhost: daily sending limit reached")
    assert "3 recipients a day on the Starter plan, 3 sent today" in refused


def test_a_message_that_would_go_over_is_refused_whole_and_not_counted(policy):
    assert policy.decide(end_of_message("sales@acme.localhost", 2)) == "DUNNO"
    assert policy.decide(end_of_message("sales@acme.localhost", 2)).startswith("550")
    assert policy.decide(end_of_message("sales@acme.localhost", 1)) == "DUNNO"


def test_its_custom_domain_shares_its_count(policy):
    assert policy.decide(end_of_message("sales@acme.localhost", 3)) == "DUNNO"
    assert policy.decide(end_of_message("news@SHOP.acme.example", 1)).startswith("550")


def test_the_count_starts_again_the_next_day_and_survives_a_restart(policy, tmp_path):
    assert policy.decide(end_of_message("sales@acme.localhost", 3)) == "DUNNO"
    again = mail_policy.Policy(
        FixedRoutes(HOSTS),
        mail_policy.Ledger(tmp_path / "sent.sqlite3"),
        today=lambda: "2026-12-05",
    )
    assert again.decide(end_of_message("sales@acme.localhost", 1)).startswith("550")
    policy.day["today"] = "2026-12-06"
    assert policy.decide(end_of_message("sales@acme.localhost", 3)) == "DUNNO"


def test_no_limit_unknown_senders_and_other_states_pass(policy):
    assert policy.decide(end_of_message("a@big.localhost", 10_000)) == "DUNNO"
    assert policy.decide(end_of_message("welcome@platform.example", 10_000)) == "DUNNO"
    assert policy.decide(end_of_message("", 1)) == "DUNNO"
    rcpt = {"protocol_state": "RCPT", "sender": "sales@acme.localhost", "recipient_count": "0"}
    for _ in range(5):
        assert policy.decide(rcpt) == "DUNNO"
    # A garbled count is one recipient.
    garbled = end_of_message("sales@acme.localhost", "x")
    assert [policy.decide(garbled) for _ in range(4)][-1].startswith("550")


def test_it_speaks_postfixs_policy_protocol(policy):
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        asyncio.start_server(lambda r, w: mail_policy.serve_client(policy, r, w), "127.0.0.1", 0)
    )
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        address = ("127.0.0.1", server.sockets[0].getsockname()[1])
        request = {"protocol_state": "END-OF-MESSAGE", "sender": "x@acme.localhost"}
        answers = [mail_policy.ask(address, {**request, "recipient_count": 2}) for _ in range(2)]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()
    assert answers[0] == "DUNNO"
    assert answers[1].startswith("550 5.4.5 acme.localhost: daily sending limit")
