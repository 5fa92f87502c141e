"""A fleet upgrade end to end: the operator's `make upgrade-tenants`, real
`-u` in separate Odoo processes as each tenant's role, a smoke check through
the tenant runtime, and a test addon whose update fails in one tenant."""

import re
import time

from .support import (
    TENANT_DB_PREFIX,
    paused_cron,
    provision,
    query,
    tenant_login,
    tenant_row,
)

TEST_MODULE = "ipai_test_upgrade_fail"
CODES = ("upg-a", "upg-b", "upg-c")
FAILING = "upg-b"


def loads(code):
    """How often Odoo initialised the test addon's model in this tenant
    (several times per install or update)."""
    rows = query(
        TENANT_DB_PREFIX + code,
        "SELECT value FROM ir_config_parameter WHERE key = %s",
        [f"{TEST_MODULE}.loads"],
    )
    return int(rows[0][0]) if rows else 0


def test_a_failed_tenant_upgrade_is_rolled_back_and_the_others_upgraded(
    cli, admin_rpc, platform_db, tenant_server, credentials_dir, artifacts
):
    module_id = admin_rpc.call(
        "ir.module.module", "create", {"name": TEST_MODULE, "state": "uninstalled"}
    )
    admin_rpc.call(
        "ipai.tenant.plan",
        "create",
        {"code": "upgr", "name": "Upgrade test", "module_ids": [(6, 0, [module_id])]},
    )
    sessions = {}
    for code in CODES:
        provision(cli, code, "--plan", "upgr")
        sessions[code] = tenant_login(tenant_server, code, credentials_dir, timeout=30)
        sessions[code].call("res.partner", "create", {"name": f"Customer of {code}"})
    before = {code: loads(code) for code in CODES}
    assert all(before.values())
    # The tenant's own administrator sets what makes the addon's update fail.
    sessions[FAILING].call("ir.config_parameter", "set_param", f"{TEST_MODULE}.fail", "1")

    with (
        paused_cron(platform_db, "ir_cron_run_tenant_jobs"),
        paused_cron(platform_db, "ir_cron_advance_upgrade_runs", "ipai_tenant_data_safety"),
    ):
        result = cli(
            "upgrade-tenants",
            "--modules",
            TEST_MODULE,
            "--tenants",
            ",".join(CODES),
            "--concurrency",
            "2",
        )
    output = result.stdout + result.stderr
    (artifacts / "upgrade-tenants.txt").write_text(output)  # what the operator saw
    assert result.returncode == 1, output
    tenant_lines = {
        line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("upg-")
    }
    assert set(tenant_lines) == set(CODES), output
    assert re.match(r"upg-a\s+upgraded\s", tenant_lines["upg-a"]), output
    assert re.match(r"upg-c\s+upgraded\s", tenant_lines["upg-c"]), output
    assert re.match(r"upg-b\s+rolled back\s+Updating the modules failed", tenant_lines[FAILING])
    assert "made to fail" in tenant_lines[FAILING], output
    assert "2 upgraded, 1 rolled back, 0 failed" in result.stdout, output

    # The others went through the update; the failing one is back on its
    # pre-upgrade data and serving it.
    assert loads("upg-a") > before["upg-a"] and loads("upg-c") > before["upg-c"]
    assert loads(FAILING) == before[FAILING]
    for code in CODES:
        assert tenant_row(platform_db, code)[0] == "active"
        session = tenant_login(tenant_server, code, credentials_dir, timeout=30)
        assert session.call("res.partner", "search_count", [("name", "=", f"Customer of {code}")])
    lines = query(
        platform_db,
        """SELECT t.code, l.state, l.error IS NOT NULL FROM ipai_tenant_upgrade_line l
             JOIN ipai_tenant t ON t.id = l.tenant_id WHERE t.code IN %s ORDER BY t.code""",
        [CODES],
    )
    assert lines == [
        ("upg-a", "upgraded", False),
        ("upg-b", "rolled_back", True),
        ("upg-c", "upgraded", False),
    ]
    assert query(
        platform_db,
        """SELECT count(*) FROM ipai_tenant_backup b JOIN ipai_tenant t ON t.id = b.tenant_id
            WHERE t.code IN %s AND b.kind = 'pre_upgrade'""",
        [CODES],
    ) == [(3,)]
    assert query(
        "postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE %s", ["%upg-%\\_re%"]
    ) == [(0,)], "no scratch or replaced database left"


def test_the_platform_action_upgrades_through_the_platform_crons(
    admin_rpc, platform_db, tenant_server, credentials_dir
):
    """The same from the platform's form: the wizard starts a run, the
    platform's crons rebuild the templates and run the tenant's job."""
    [tenant_id] = admin_rpc.call("ipai.tenant", "search", [("code", "=", "upg-a")])
    before = loads("upg-a")
    wizard = admin_rpc.call(
        "ipai.tenant.upgrade.wizard",
        "create",
        {"modules": TEST_MODULE, "tenant_ids": [(6, 0, [tenant_id])], "concurrency": 1},
    )
    action = admin_rpc.call("ipai.tenant.upgrade.wizard", "action_start", [wizard])
    run_id = action["res_id"]
    deadline = time.monotonic() + 240
    while (run := admin_rpc.call("ipai.tenant.upgrade.run", "read", [run_id], ["state"])[0])[
        "state"
    ] != "done":
        assert time.monotonic() < deadline, run
        time.sleep(0.5)
    [line] = admin_rpc.call(
        "ipai.tenant.upgrade.line", "search_read", [("run_id", "=", run_id)], ["state"]
    )
    assert line["state"] == "upgraded"
    assert loads("upg-a") > before
    assert tenant_row(platform_db, "upg-a")[0] == "active"
