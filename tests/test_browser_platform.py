"""A platform admin in a real (headless Chromium) browser."""

from datetime import date

import pytest

pytestmark = pytest.mark.browser


def login(page, server, login, password):
    page.goto(f"{server.url}/web/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector(".o_main_navbar")


def test_admin_logs_in_and_opens_the_tenant_menu(page, platform_server, admin_password, artifacts):
    login(page, platform_server, "admin", admin_password)
    page.goto(f"{platform_server.url}/odoo/tenants")
    page.wait_for_selector(".o_kanban_record:has-text('TBWA Philippines')")
    assert page.locator(".o_breadcrumb").inner_text().strip().startswith("Tenants")
    shot = artifacts / "platform-tenant-kanban.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_manager_creates_a_tenant_in_the_form_and_sees_it_in_the_kanban(
    page, platform_server, admin_password, artifacts
):
    login(page, platform_server, "admin", admin_password)
    page.goto(f"{platform_server.url}/odoo/tenants/new")
    page.fill(".o_field_widget[name=name] input", "Browser Made Ltd")
    page.fill(".o_field_widget[name=code] input", "browser-made")
    page.click(".o_form_button_save")
    page.wait_for_selector(
        ".o_form_saved, .o_form_status_indicator_buttons.invisible", state="attached"
    )
    page.wait_for_selector(".o_field_widget[name=database_name]:has-text('browser-made')")
    page.goto(f"{platform_server.url}/odoo/tenants")
    card = page.locator(
        ".o_kanban_group:has-text('Draft') .o_kanban_record:has-text('Browser Made Ltd')"
    )
    card.wait_for()
    page.screenshot(path=str(artifacts / "platform-tenant-created.png"), full_page=True)
    assert card.count() == 1


def test_provision_button_does_the_work_and_the_form_follows_live(
    page, platform_server, admin_password, admin_rpc, artifacts
):
    tenant_id = admin_rpc.call(
        "ipai.tenant", "create", {"code": "live-form", "name": "Live Form Ltd"}
    )
    login(page, platform_server, "admin", admin_password)
    page.goto(f"{platform_server.url}/odoo/tenants/{tenant_id}")
    page.click("button[name=action_provision]")
    page.click(".modal-footer button.btn-primary")  # the confirmation
    # No reload from here on: the form refreshes itself while the job runs.
    # The state as shown: the current step, or the one dropdown the status
    # bar folds into when the header's buttons leave it too little room.
    status = page.locator(
        ".o_statusbar_status button.o_arrow_button_current:visible,"
        " .o_statusbar_status .dropdown-toggle:not(.o_arrow_button):visible"
    )
    status.filter(has_text="Active").wait_for(timeout=90_000)
    page.screenshot(path=str(artifacts / "platform-tenant-provisioned.png"), full_page=True)
    assert page.locator("button[name=action_suspend]").is_visible()
    assert "live-form" in page.locator(".o_field_widget[name=database_name]").inner_text()


def test_the_kpi_dashboard_opens_with_this_months_figures_and_a_trend(
    page, platform_server, admin_password, admin_rpc, artifacts
):
    """From the menu's address: this month's dashboard, titled with its month
    (never a blank "New" record), with the rows it rebuilt on opening
    (nobody pressed Recompute), and the twelve-month trend table."""
    login(page, platform_server, "admin", admin_password)
    page.goto(f"{platform_server.url}/odoo/saas-dashboard")
    page.locator(".o_ipai_kpi_trend").wait_for()
    assert page.locator(".o_breadcrumb").inner_text().strip().startswith("SaaS KPIs,")
    shown = int(page.locator(".o_field_widget[name=tenants_active]").inner_text().strip())
    this_month = date.today().replace(day=1).isoformat()
    counted = admin_rpc.call(
        "ipai.billing.kpi",
        "search_count",
        [("month", "=", this_month), ("tenants_active", "=", 1)],
    )
    assert shown == counted > 0
    assert page.locator(".o_ipai_kpi_trend tbody tr").count() == 12
    page.screenshot(path=str(artifacts / "platform-kpi-dashboard.png"), full_page=True)
