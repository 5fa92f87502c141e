"""What a tenant database enforces and reports, with real databases."""

import ast
import time

import pytest
import requests

from .conftest import TENANT_DB_PREFIX
from .support import RpcError, provision, query, tenant_login


def eval_domain(text):
    """An action's domain as the web client reads it (literals only here)."""
    return ast.literal_eval(text)


def make_user(session, login_name, portal=False):
    group = "base.group_portal" if portal else "base.group_user"
    group_id = session.call("ir.model.data", "check_object_reference", *group.split("."))[1]
    return session.call(
        "res.users",
        "create",
        {"name": login_name, "login": login_name, "groups_id": [(6, 0, [group_id])]},
    )


@pytest.fixture(scope="module")
def limited(cli, tenant_server, credentials_dir):
    provision(cli, "limited")  # trial plan: 3 internal users, 1 company
    return tenant_login(tenant_server, "limited", credentials_dir)


def test_user_limit_blocks_the_next_internal_user_with_a_clear_message(limited):
    make_user(limited, "second@limited.example")
    make_user(limited, "third@limited.example")
    with pytest.raises(RpcError, match=r"plan Trial allows 3 internal users"):
        make_user(limited, "fourth@limited.example")
    assert not limited.call("res.users", "search", [("login", "=", "fourth@limited.example")])
    # Portal users do not count against the plan.
    for index in range(3):
        make_user(limited, f"customer{index}@limited.example", portal=True)


def test_the_login_page_and_the_apps_are_the_tenants_own(limited, tenant_server):
    """No "Powered by Odoo" under a tenant's login form, and none of the
    platform's addons in its Apps: only the ipai addons it has installed."""
    page = requests.get(
        f"{tenant_server.url}/web/login", headers={"Host": "limited.localhost"}, timeout=30
    )
    assert page.status_code == 200 and 'name="login"' in page.text
    assert "Powered by" not in page.text
    [apps] = limited.call(
        "ir.actions.act_window", "search_read", [("path", "=", "apps")], ["domain"]
    )
    listed = limited.call(
        "ir.module.module",
        "search_read",
        [*eval_domain(apps["domain"]), ("name", "=like", "ipai%")],
        ["name", "state"],
    )
    assert "ipai_tenant_client" in {row["name"] for row in listed}, listed
    assert all(row["state"] == "installed" for row in listed), listed


def test_company_limit_blocks_a_second_company(limited):
    with pytest.raises(RpcError, match=r"plan Trial allows 1 companies"):
        limited.call("res.company", "create", {"name": "Second Co"})


def test_plan_change_reaches_the_tenant_within_one_run_and_is_audited(
    limited, cli, admin_rpc, platform_db
):
    tenant_id = admin_rpc.call("ipai.tenant", "search", [("code", "=", "limited")])[0]
    starter = admin_rpc.call("ipai.tenant.plan", "search", [("code", "=", "starter")])[0]
    wizard = admin_rpc.call(
        "ipai.tenant.change.plan", "create", {"tenant_id": tenant_id, "plan_id": starter}
    )
    admin_rpc.call("ipai.tenant.change.plan", "action_apply", [wizard])
    assert cli("run-jobs").returncode == 0  # or the platform's cron, woken by the change
    from .support import wait_for_state

    wait_for_state(platform_db, "limited", "active")
    import time

    deadline = time.monotonic() + 60
    while (
        query(
            platform_db,
            """SELECT 1 FROM ipai_tenant_job j JOIN ipai_tenant t ON t.id = j.tenant_id
            WHERE t.code = 'limited' AND j.job_type = 'change_plan' AND j.state = 'done'""",
        )
        == []
    ):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    make_user(limited, "fourth@limited.example")  # starter allows 5
    audit = query(
        platform_db,
        "SELECT action FROM ipai_audit_log WHERE tenant_code = 'limited' ORDER BY sequence",
    )
    assert ("job:change_plan:done",) in audit
    assert any(action == "write" for (action,) in audit)


def test_usage_arrives_in_the_control_plane_with_warnings(limited, cli, admin_rpc, platform_db):
    assert cli("collect-usage").returncode == 0
    tenant = admin_rpc.call(
        "ipai.tenant",
        "search_read",
        [("code", "=", "limited")],
        ["user_count", "storage_mb", "last_sync", "usage_warning"],
    )[0]
    internal = query(
        f"{platform_db.rsplit('_platform', 1)[0]}_t_limited",
        "SELECT count(*) FROM res_users WHERE active AND NOT share AND id <> 1",
    )[0][0]
    assert tenant["user_count"] == internal
    assert tenant["storage_mb"] > 1 and tenant["last_sync"]
    metrics = admin_rpc.call(
        "ipai.tenant.metric",
        "search_read",
        [("tenant_id.code", "=", "limited")],
        ["internal_users", "companies", "db_size_mb"],
    )
    assert len(metrics) == 1 and metrics[0]["companies"] == 1
    # 1 company of 1 is over 90 % of the limit: the platform warns.
    assert "companies" in tenant["usage_warning"]
    groups = admin_rpc.call(
        "ipai.tenant.metric", "read_group", [], ["storage_mb:max"], ["tenant_id"]
    )
    assert groups


def change_plan(cli, admin_rpc, platform_db, tenant_id, plan_id, changes_done):
    """The plan change wizard, then its job run; returns once the tenant has
    ``changes_done`` finished plan changes. Done once the job is: the module's
    state is committed before Odoo has finished installing (and signalled the
    new registry)."""
    wizard = admin_rpc.call(
        "ipai.tenant.change.plan", "create", {"tenant_id": tenant_id, "plan_id": plan_id}
    )
    admin_rpc.call("ipai.tenant.change.plan", "action_apply", [wizard])
    assert cli("run-jobs").returncode == 0  # or the platform's cron, woken by the change
    deadline = time.monotonic() + 300
    while query(
        platform_db,
        """SELECT count(*) FROM ipai_tenant_job
            WHERE tenant_id = %s AND job_type = 'change_plan' AND state = 'done'""",
        [tenant_id],
    ) != [(changes_done,)]:
        assert time.monotonic() < deadline, "the plan change never finished"
        time.sleep(1)


def test_a_plan_change_installs_what_the_new_plan_adds(
    cli, admin_rpc, tenant_server, credentials_dir, platform_db
):
    provision(cli, "plan-up")
    session = tenant_login(tenant_server, "plan-up", credentials_dir)
    (crm,) = session.call("ir.module.module", "search", [("name", "=", "crm")])
    with pytest.raises(RpcError, match=r"plan Trial does not include"):
        session.call("ir.module.module", "button_immediate_install", [crm])
    modules = admin_rpc.call("ir.module.module", "search", [("name", "in", ["contacts", "crm"])])
    plan = admin_rpc.call(
        "ipai.tenant.plan",
        "create",
        {
            "code": "crm-plan",
            "name": "CRM",
            "max_users": 5,
            "max_users_per_company": 5,
            "module_ids": [(6, 0, modules)],
        },
    )
    (tenant_id,) = admin_rpc.call("ipai.tenant", "search", [("code", "=", "plan-up")])
    change_plan(cli, admin_rpc, platform_db, tenant_id, plan, changes_done=1)
    database = TENANT_DB_PREFIX + "plan-up"
    assert query(database, "SELECT state FROM ir_module_module WHERE name = 'crm'") == [
        ("installed",)
    ]
    # Installed as the tenant's own role, so its runtime can use and alter it.
    owners = query(
        database,
        "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class "
        "WHERE relname LIKE 'crm\\_lead%%' AND relkind = 'r'",
    )
    assert owners == [
        (query(platform_db, "SELECT runtime_role FROM ipai_tenant WHERE code = 'plan-up'")[0][0],)
    ]
    assert (
        tenant_login(tenant_server, "plan-up", credentials_dir).call("crm.lead", "search_count", [])
        == 0
    )
    # Back to the trial: what the CRM plan installed stays installed, is
    # recorded by the platform, and keeps loading when the registry reloads
    # (the module gate loads the plan's modules and the kept ones only).
    (trial,) = admin_rpc.call("ipai.tenant.plan", "search", [("code", "=", "trial")])
    change_plan(cli, admin_rpc, platform_db, tenant_id, trial, changes_done=2)
    [tenant] = admin_rpc.call("ipai.tenant", "read", [tenant_id], ["kept_modules"])
    assert "crm" in tenant["kept_modules"].split(",")
    query(database, "SELECT nextval('base_registry_signaling')")
    assert (
        tenant_login(tenant_server, "plan-up", credentials_dir).call("crm.lead", "search_count", [])
        == 0
    )
