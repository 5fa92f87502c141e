"""A tenant user opens the dashboard menu in a real (headless Chromium)
browser, and Superset's embedded dashboard loads in its iframe."""

import pytest

from .conftest import SALES

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("workspaces")]


def test_dashboard_menu_shows_the_embedded_superset_dashboard(
    bi_page, bi_tenants, bi_server, tenant_admins, artifacts
):
    page = bi_page
    acme = bi_tenants["acme"]
    # What the browser says goes into the report of a failure.
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    page.on(
        "requestfailed",
        lambda request: console.append(f"failed: {request.url} {request.failure}"),
    )
    page.goto(f"{bi_server.host_url(acme.host)}/web/login")
    page.fill("input[name=login]", acme.login)
    page.fill("input[name=password]", acme.password)
    page.click("button[type=submit]")
    page.wait_for_selector(".o_main_navbar")

    # Apps menu > BI Dashboards: the app opens its first dashboard.
    page.click(".o_navbar_apps_menu button")
    page.click(".o_app:has-text('BI Dashboards')")
    try:
        page.wait_for_selector(".o_ipai_bi_dashboard")
    finally:
        page.screenshot(path=str(artifacts / "bi-embedded-dashboard.png"), full_page=True)
    assert "overview" in page.locator(".o_menu_sections").inner_text()

    try:
        iframe = page.wait_for_selector(".o_ipai_bi_mount iframe")
    except Exception as exc:
        raise AssertionError(
            "no dashboard iframe; the browser said:\n" + "\n".join(console)
        ) from exc
    params = acme.params()
    superset_url = (
        params.get("ipai_bi_superset_embed.public_url")
        or params["ipai_bi_superset_embed.superset_url"]
    )
    assert iframe.get_attribute("src").startswith(
        f"{superset_url}/embedded/{acme.workspace['uuid']}"
    )
    frame = page.frame_locator(".o_ipai_bi_mount iframe")
    # The table chart renders the tenant's own rows, and not the planted one.
    try:
        for region, _amount in SALES["acme"]:
            frame.get_by_text(region, exact=True).first.wait_for(timeout=90_000)
    except Exception as exc:
        page.screenshot(path=str(artifacts / "bi-embedded-dashboard.png"), full_page=True)
        raise AssertionError(
            "the chart never showed; the browser said:\n" + "\n".join(console)
        ) from exc
    assert frame.get_by_text("planted", exact=True).count() == 0
    assert page.locator(".o_ipai_bi_error").count() == 0
    page.screenshot(path=str(artifacts / "bi-embedded-dashboard.png"), full_page=True)
