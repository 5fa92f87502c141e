"""A tenant's admin in a real browser, at the tenant's own host name: the
plan in the navbar, then the suspension."""

import pytest

from .support import admin_password, provision, query

pytestmark = pytest.mark.browser


def test_tenant_admin_logs_in_at_the_tenant_host_then_sees_the_suspension(
    cli, page, tenant_server, credentials_dir, artifacts, platform_db
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
    # The plan in the navbar: its name and the trial's days left; on click,
    # each limit with its use.
    [(plan_name, days_left, max_users)] = query(
        platform_db,
        "SELECT COALESCE(p.name->>'en_US', p.code), t.trial_end - current_date, p.max_users"
        " FROM ipai_tenant t JOIN ipai_tenant_plan p ON p.id = t.plan_id WHERE t.code = 'browsy'",
    )
    label = page.wait_for_selector(".o_ipai_plan_systray").inner_text()
    assert plan_name in label and f"{days_left} days left" in label, label
    page.click(".o_ipai_plan_systray")
    details = page.wait_for_selector(".o_ipai_plan_details").inner_text()
    assert f"Users: 1 / {max_users}" in details, details
    page.screenshot(path=str(artifacts / "tenant-plan-in-navbar.png"))

    assert cli("suspend", "--code", "browsy").returncode == 0
    page.goto(f"{base}/odoo")
    page.wait_for_selector("text=Workspace suspended")
    page.screenshot(path=str(artifacts / "tenant-suspended.png"), full_page=True)
    assert "suspended" in page.inner_text("body")
