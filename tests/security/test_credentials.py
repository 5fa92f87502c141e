"""Credentials never land where others read them.

The welcome mail carries a link that sets the tenant administrator's
password. Provider staff (and platform staff) read a tenant's chatter, so the
link must not be there, while the mail itself still reaches its recipient
(tests/test_onboarding.py follows the link from a real SMTP server). Until
the cron woken by the activation makes the mail, the link is kept only
encrypted, in a model no group reads."""

import time

import pytest

from ..support import RpcError, provider_manager, provider_tenant, provision, query

RESET_LINK = "%/web/reset_password?token=%"


@pytest.fixture(scope="module")
def staff_and_tenant(cli, admin_rpc, platform_server, platform_db):
    provider_id = provider_tenant(admin_rpc, "cr-prov", "CR Provider")
    viewer = provider_manager(admin_rpc, platform_server, provider_id, "cr-viewer", role="viewer")
    manager = provider_manager(
        admin_rpc, platform_server, provider_id, "cr-manager", role="manager"
    )
    provision(cli, "cr-client", "--parent", "cr-prov")
    [(tenant_id,)] = query(platform_db, "SELECT id FROM ipai_tenant WHERE code = 'cr-client'")
    return viewer, manager, tenant_id


def welcome_mails(platform_db, email, timeout=60):
    """The welcome mails queued for ``email``, once the cron woken by the
    activation made one (the platform's mail cron sends it later)."""
    deadline = time.monotonic() + timeout
    while True:
        [(queued,)] = query(
            platform_db,
            "SELECT count(*) FROM mail_mail m JOIN mail_message g ON g.id = m.mail_message_id "
            "WHERE g.body LIKE %s AND %s = ANY(string_to_array(m.email_to, ','))",
            [RESET_LINK, email],
        )
        if queued or time.monotonic() > deadline:
            return queued
        time.sleep(0.3)


def test_the_set_password_link_is_not_in_the_tenants_chatter(staff_and_tenant, platform_db):
    viewer, manager, tenant_id = staff_and_tenant
    # The mail is queued, once ...
    assert welcome_mails(platform_db, "admin@cr-client.example") == 1
    # ... and the encrypted link it was made from is gone: no second one.
    assert query(
        platform_db,
        "SELECT count(*) FROM ipai_tenant_secret WHERE tenant_id = %s AND kind = 'welcome_link'",
        [tenant_id],
    ) == [(0,)]
    # ... bound to no record: no message of the tenant holds the link.
    assert query(
        platform_db,
        "SELECT count(*) FROM mail_message WHERE model = 'ipai.tenant' AND res_id = %s "
        "AND body LIKE %s",
        [tenant_id, RESET_LINK],
    ) == [(0,)]
    for staff in (viewer, manager):
        messages = staff.call(
            "mail.message",
            "search_read",
            [("model", "=", "ipai.tenant"), ("res_id", "=", tenant_id)],
            ["body"],
        )
        assert messages, "the staff reads the tenant's chatter"
        assert not any("reset_password" in (message["body"] or "") for message in messages)
        assert any("Welcome mail queued" in (message["body"] or "") for message in messages)
        found = staff.call(
            "mail.message", "search_read", [("body", "ilike", "reset_password")], ["id"]
        )
        assert found == []
        with pytest.raises(RpcError, match=r"(?i)access|not allowed"):
            staff.call("mail.mail", "search_read", [], ["body_html"])
        # Where the link waits for the cron, encrypted: closed to staff too.
        with pytest.raises(RpcError, match=r"(?i)access|not allowed"):
            staff.call("ipai.tenant.secret", "search_read", [], ["token"])
