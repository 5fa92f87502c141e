"""Tenant events leaving the running platform: a tenant provisioned from
the command line reaches a webhook receiver on loopback, signed, through
the platform server's own delivery cron, retried after a 500; a receiver
that keeps failing gets its webhook disabled and the owner a mail through
a real SMTP server."""

import re

import pytest
from odoo.addons.ipai_tenant_billing.tests.mail_sink import SmtpSink
from odoo.addons.ipai_tenant_notify.tests.receiver import WebhookReceiver

from .support import provision, send_mail_queue, use_smtp_sink


@pytest.fixture(scope="module")
def receiver():
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def platform_id(admin_rpc):
    return admin_rpc.call("ipai.tenant", "search", [("code", "=", "platform")])[0]


def make_webhook(admin_rpc, owner_id, url, topics=(), **values):
    topic_ids = admin_rpc.call("ipai.webhook.topic", "search", [("code", "in", list(topics))])
    return admin_rpc.call(
        "ipai.webhook",
        "create",
        {
            "name": "integration",
            "owner_id": owner_id,
            "url": url,
            "topic_ids": [(6, 0, topic_ids)],
            **values,
        },
    )


def reveal_secret(rpc, webhook_id):
    """The secret as the form's button shows it, once."""
    action = rpc.call("ipai.webhook", "action_reveal_secret", [webhook_id])
    return action["params"]["message"].split("\n", 1)[0]


def test_a_new_tenant_is_told_to_the_webhook_signed_and_retried(
    admin_rpc, platform_id, receiver, cli
):
    admin_rpc.call("ir.config_parameter", "set_param", "ipai_tenant_notify.retry_base_seconds", "1")
    webhook_id = make_webhook(
        admin_rpc, platform_id, receiver.url, ("tenant.created", "tenant.activated")
    )
    receiver.secret = reveal_secret(admin_rpc, webhook_id)
    receiver.statuses = [500]

    provision(cli, "hooked")
    received = receiver.wait_for(
        lambda requests: (
            {"tenant.created", "tenant.activated"}
            <= {r["event"]["type"] for r in requests if r["status"] == 200}
        )
    )
    hooked = [r for r in received if (r["event"]["data"]["tenant"] or {}).get("code") == "hooked"]
    assert all(r["valid"] for r in hooked), "every delivery is signed with the secret"
    created = [r for r in hooked if r["event"]["type"] == "tenant.created"]
    # The first attempt got a 500; the retry carries the same event id.
    assert [r["status"] for r in created] == [500, 200]
    assert len({r["event"]["id"] for r in created}) == 1
    [activated] = [r for r in hooked if r["event"]["type"] == "tenant.activated"]
    assert activated["event"]["data"]["tenant"]["state"] == "active"
    assert activated["event"]["data"]["previous_state"] == "provisioning"

    log = admin_rpc.call(
        "ipai.webhook.attempt",
        "search_read",
        [("webhook_id", "=", webhook_id)],
        ["status_code", "success"],
        order="id",
    )
    assert [entry["status_code"] for entry in log][:1] == [500]
    assert sum(entry["success"] for entry in log) == 2
    admin_rpc.call("ipai.webhook", "write", [webhook_id], {"active": False})


def test_a_failing_webhook_is_disabled_and_its_owner_mailed(admin_rpc, platform_id, receiver):
    smtp = SmtpSink().start()
    previous = use_smtp_sink(admin_rpc, smtp)
    try:
        admin_rpc.call(
            "ipai.tenant", "write", [platform_id], {"admin_email": "owner@platform.example"}
        )
        admin_rpc.call(
            "ir.config_parameter", "set_param", "ipai_tenant_notify.disable_min_attempts", "3"
        )
        admin_rpc.call(
            "ir.config_parameter", "set_param", "ipai_tenant_notify.retry_base_seconds", "600"
        )
        webhook_id = make_webhook(admin_rpc, platform_id, receiver.url, name="always down")
        receiver.secret = reveal_secret(admin_rpc, webhook_id)
        receiver.statuses = [503] * 3
        for _ in range(4):
            admin_rpc.call("ipai.webhook", "action_send_test", [webhook_id])

        message = smtp.wait_for("owner@platform.example", lambda: send_mail_queue(admin_rpc))
        assert message["Subject"] == "Webhook always down was disabled"
        [webhook] = admin_rpc.call(
            "ipai.webhook",
            "read",
            [webhook_id],
            ["active", "disabled_reason"],
            context={"active_test": False},
        )
        assert not webhook["active"]
        assert re.search(r"3 of 3 deliveries in the last hour failed", webhook["disabled_reason"])
        pings = [r for r in receiver.requests if r["event"]["type"] == "ping"]
        assert len(pings) == 3, "the fourth waits for the webhook to be enabled again"
    finally:
        admin_rpc.call(
            "ir.config_parameter", "set_param", "ipai_tenant_notify.disable_min_attempts", "10"
        )
        servers = admin_rpc.call("ir.mail_server", "search", [("name", "=", "test sink")])
        admin_rpc.call("ir.mail_server", "unlink", servers)
        admin_rpc.call("ir.mail_server", "write", previous, {"active": True})
        smtp.stop()
