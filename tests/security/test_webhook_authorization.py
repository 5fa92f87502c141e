"""Attacks on webhooks (and schema documents), made as a provider manager over plain JSON-RPC
against the running platform: another provider's webhook (its URL, its
events, its signing secret) is neither found, read, changed, revealed,
rotated nor deleted, and no webhook can be made in another provider's name.
Each attempt is refused and the webhooks' rows are unchanged."""

import pytest

from ..support import RpcError, provider_manager, provider_tenant, query


@pytest.fixture(scope="module")
def providers(admin_rpc, platform_server):
    ids = {code: provider_tenant(admin_rpc, code, code) for code in ("wh-attacker", "wh-victim")}
    victim_hook = admin_rpc.call(
        "ipai.webhook",
        "create",
        {
            "name": "victim's CRM",
            "owner_id": ids["wh-victim"],
            "url": "https://crm.victim.example/hook",
        },
    )
    attacker = provider_manager(admin_rpc, platform_server, ids["wh-attacker"], "wh-manager")
    return attacker, ids, victim_hook


def webhook_rows(platform_db):
    return query(
        platform_db,
        """SELECT id, name, owner_id, url, active, secret_token, secret_revealed
             FROM ipai_webhook ORDER BY id""",
    )


def refused(call, *args, **kwargs):
    with pytest.raises(RpcError) as error:
        call(*args, **kwargs)
    assert error.value.name in ("odoo.exceptions.AccessError", "odoo.exceptions.MissingError")


def test_a_provider_cannot_reach_another_providers_webhook(platform_db, providers):
    attacker, ids, victim_hook = providers
    before = webhook_rows(platform_db)
    own = attacker.call(
        "ipai.webhook",
        "create",
        {"name": "mine", "owner_id": ids["wh-attacker"], "url": "https://me.example/hook"},
    )
    assert attacker.call("ipai.webhook", "search", []) == [own]
    assert attacker.call("ipai.webhook", "search_count", [("id", "=", victim_hook)]) == 0

    refused(attacker.call, "ipai.webhook", "read", [victim_hook], ["url", "owner_id"])
    refused(attacker.call, "ipai.webhook", "write", [victim_hook], {"url": "https://evil.example/"})
    refused(attacker.call, "ipai.webhook", "write", [victim_hook], {"owner_id": ids["wh-attacker"]})
    refused(attacker.call, "ipai.webhook", "action_reveal_secret", [victim_hook])
    refused(attacker.call, "ipai.webhook", "action_rotate_secret", [victim_hook])
    refused(attacker.call, "ipai.webhook", "action_send_test", [victim_hook])
    refused(attacker.call, "ipai.webhook", "unlink", [victim_hook])
    refused(
        attacker.call,
        "ipai.webhook",
        "create",
        {"name": "spy", "owner_id": ids["wh-victim"], "url": "https://evil.example/"},
    )
    # Its own webhook's secret: shown once by the button, never as a field,
    # and the encrypted token is not writable either.
    refused(attacker.call, "ipai.webhook", "read", [own], ["secret_token"])
    refused(attacker.call, "ipai.webhook", "write", [own], {"secret_revealed": False})
    # Moving its own webhook under the victim to hear the victim's events.
    refused(attacker.call, "ipai.webhook", "write", [own], {"owner_id": ids["wh-victim"]})
    assert (
        attacker.call("ipai.webhook.delivery", "search", [("webhook_id", "=", victim_hook)]) == []
    )

    after = [row for row in webhook_rows(platform_db) if row[0] != own]
    assert after == before


def test_a_provider_cannot_document_another_providers_tenant_schema(platform_db, providers):
    attacker, ids, _victim_hook = providers
    count = "SELECT count(*) FROM ir_attachment WHERE res_model = 'ipai.tenant'"
    before = query(platform_db, count)
    refused(attacker.call, "ipai.tenant", "action_download_schema", [ids["wh-victim"]])
    assert query(platform_db, count) == before
