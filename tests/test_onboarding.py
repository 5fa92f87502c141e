"""A new tenant as its administrator meets it: a company with the tenant's
name, country and e-mail, an administrator with their own name, and a
welcome mail through a real SMTP server whose link sets the password in the
tenant database (Odoo's reset-password flow), followed in a real browser."""

import html
import re

import pytest
from odoo.addons.ipai_tenant_billing.tests.mail_sink import SmtpSink

from .support import (
    TENANT_DB_PREFIX,
    JsonRpc,
    mail_html,
    provision,
    query,
    send_mail_queue,
    use_smtp_sink,
)


@pytest.fixture(scope="module")
def smtp(admin_rpc):
    sink = SmtpSink().start()
    previous = use_smtp_sink(admin_rpc, sink)
    yield sink
    test_servers = admin_rpc.call("ir.mail_server", "search", [("name", "=", "test sink")])
    admin_rpc.call("ir.mail_server", "unlink", test_servers)
    admin_rpc.call("ir.mail_server", "write", previous, {"active": True})
    sink.stop()


def test_new_tenant_company_and_admin_carry_the_tenant(cli, tenant_server):
    provision(
        cli, "onboard", "--name", "Onboard Trading", "--country", "BE", "--admin-name", "Olga Owner"
    )
    database = TENANT_DB_PREFIX + "onboard"
    [(name, email, country)] = query(
        database,
        """SELECT c.name, c.email, k.code FROM res_company c
             JOIN res_partner p ON p.id = c.partner_id
             LEFT JOIN res_country k ON k.id = p.country_id
            WHERE c.id = (SELECT res_id FROM ir_model_data
                           WHERE module = 'base' AND name = 'main_company')""",
    )
    assert (name, email, country) == ("Onboard Trading", "admin@onboard.example", "BE")
    [(admin_name, login)] = query(
        database,
        """SELECT p.name, u.login FROM res_users u JOIN res_partner p ON p.id = u.partner_id
            WHERE u.id = (SELECT res_id FROM ir_model_data
                           WHERE module = 'base' AND name = 'user_admin')""",
    )
    assert (admin_name, login) == ("Olga Owner", "admin@onboard.example")


def test_an_unknown_country_is_refused_before_anything_is_made(cli, platform_db):
    result = cli("provision", "--code", "nowhere", "--country", "XX")
    assert result.returncode == 2
    assert "no country with code 'XX'" in result.stdout + result.stderr
    assert not query(platform_db, "SELECT 1 FROM ipai_tenant WHERE code = 'nowhere'")


@pytest.mark.browser
def test_welcome_mail_link_sets_the_password_and_logs_in(
    cli, smtp, admin_rpc, tenant_server, page, artifacts
):
    provision(cli, "welcome", "--name", "Welcome Works", "--admin-name", "Wendy Welcome")
    message = smtp.wait_for("admin@welcome.example", lambda: send_mail_queue(admin_rpc))
    assert message["Subject"] == "Your workspace Welcome Works is ready"
    body = mail_html(message)
    tenant_url = tenant_server.host_url("welcome.localhost")
    assert tenant_url in body
    links = [html.unescape(link) for link in re.findall(r'href="([^"]+)"', body)]
    [reset_link] = [link for link in links if "/web/reset_password?token=" in link]
    assert reset_link.startswith(tenant_url)
    # No password travels by mail: the one-time password is not in it.
    assert "password:" not in body.lower()

    page.goto(reset_link)
    page.fill("input[name=password]", "Welcome-Chosen-42")
    page.fill("input[name=confirm_password]", "Welcome-Chosen-42")
    page.click("button[type=submit]")
    page.wait_for_selector(".o_main_navbar")
    page.screenshot(path=str(artifacts / "tenant-welcome-logged-in.png"), full_page=True)

    session = JsonRpc(
        tenant_server.url,
        TENANT_DB_PREFIX + "welcome",
        "admin@welcome.example",
        "Welcome-Chosen-42",
        host="welcome.localhost",
    )
    assert session.uid
    # The link worked once: the token died with the first login.
    page.context.clear_cookies()
    page.goto(reset_link)
    assert "Invalid signup token" in page.inner_text("body")
