"""A tenant's admin in a real browser, at the tenant's own host name."""

import pytest

from .support import admin_password, provision

pytestmark = pytest.mark.browser


def test_tenant_admin_logs_in_at_the_tenant_host_then_sees_the_suspension(
    cli, page, tenant_server, credentials_dir, artifacts
):
    provision(cli, "browsy")
    base = tenant_server.host_url("browsy.localhost")
    page.goto(f"{base}/web/login")
    page.fill("input[name=login]", "admin@browsy.example")
    page.fill("input[name=password]", admin_password(credentials_dir, "browsy"))
    page.click("button[type=submit]")
    page.wait_for_selector(".o_main_navbar")
    page.goto(f"{base}/odoo")
    page.wait_for_selector(".o_home_menu, .o_main_navbar .o_menu_brand, .o_action_manager")
    page.screenshot(path=str(artifacts / "tenant-home.png"), full_page=True)

    assert cli("suspend", "--code", "browsy").returncode == 0
    page.goto(f"{base}/odoo")
    page.wait_for_selector("text=Workspace suspended")
    page.screenshot(path=str(artifacts / "tenant-suspended.png"), full_page=True)
    assert "suspended" in page.inner_text("body")
