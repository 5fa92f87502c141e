"""Attacks on billing, made as a provider manager over plain JSON-RPC against
the running platform: stop being billed, redirect invoices to another
customer, extend a trial, lift a suspension only paying can lift. Each is
refused with a clear message and changes nothing."""

import pytest

from ..support import (
    JsonRpc,
    RpcError,
    provider_with_manager,
    provision,
    query,
    run_odoo_script,
    wait_for_state,
)

TERMS_COLUMNS = (
    "partner_id, bill_to_provider, trial_end, subscription_start, subscription_end, "
    "billed_until, overage_billed_month, trial_reminder_sent, archive_warning_sent, state"
)


@pytest.fixture(scope="module")
def billed(admin_rpc, platform_server, cli, platform_db):
    """Provider bp-prov (its manager logged in over JSON-RPC) with an active
    sub-tenant bp-sub on the trial plan, billed as the platform bills it;
    and another customer, bp-other, with its own billing contact."""
    provider_id, manager = provider_with_manager(
        admin_rpc, platform_server, "bp-prov", "BP Provider", "bp-manager"
    )
    provision(cli, "bp-sub", "--parent", "bp-prov", "--plan", "trial")
    (sub,) = admin_rpc.call("ipai.tenant", "search", [("code", "=", "bp-sub")])
    # What a billing run leaves on a tenant it invoiced (the platform's own
    # code; RPC cannot write these fields).
    run_odoo_script(
        platform_db,
        "tenant = env['ipai.tenant'].search([('code', '=', 'bp-sub')])\n"
        "tenant._billing_partner()\n"
        "tenant.write({'billed_until': '2026-12-31', 'overage_billed_month': '2026-11',\n"
        "              'trial_reminder_sent': 7, 'archive_warning_sent': True})\n"
        "env.cr.commit()\n",
    )
    other_partner = admin_rpc.call(
        "res.partner", "create", {"name": "BP Other customer", "email": "ap@other.example"}
    )
    return manager, provider_id, sub, other_partner


def terms(platform_db, tenant_id):
    return query(platform_db, f"SELECT {TERMS_COLUMNS} FROM ipai_tenant WHERE id = %s", [tenant_id])


@pytest.mark.parametrize(
    "values",
    [
        {"subscription_start": False},
        {"billed_until": False},
        {"overage_billed_month": False},
        {"trial_reminder_sent": 0},
        {"archive_warning_sent": False},
        {"subscription_end": "2026-01-01"},
    ],
    ids=lambda values: next(iter(values)),
)
def test_billing_fields_cannot_be_cleared_or_set(billed, platform_db, values):
    manager, _provider, sub, _other = billed
    before = terms(platform_db, sub)
    with pytest.raises(RpcError, match="can only be set by billing"):
        manager.call("ipai.tenant", "write", [sub], values)
    assert terms(platform_db, sub) == before


@pytest.mark.parametrize(
    "values",
    [
        {"partner_id": "other"},
        {"bill_to_provider": True},
        {"trial_end": "2099-12-31"},
        {"trial_end": False},
    ],
    ids=lambda values: f"{next(iter(values))}={next(iter(values.values()))}",
)
def test_the_terms_are_the_platforms_to_set(billed, platform_db, values):
    manager, _provider, sub, other = billed
    values = {key: other if value == "other" else value for key, value in values.items()}
    before = terms(platform_db, sub)
    with pytest.raises(RpcError, match="Only platform managers change"):
        manager.call("ipai.tenant", "write", [sub], values)
    assert terms(platform_db, sub) == before


def test_a_new_sub_tenant_takes_its_terms_from_its_plan(billed, admin_rpc, platform_db):
    manager, provider_id, _sub, other = billed
    trial = admin_rpc.call("ipai.tenant.plan", "search", [("code", "=", "trial")])[0]
    count = query(platform_db, "SELECT count(*) FROM ipai_tenant")
    for extra in (
        {"trial_end": "2099-12-31"},
        {"partner_id": other},
        {"bill_to_provider": True},
    ):
        with pytest.raises(RpcError, match="Only platform managers set"):
            manager.call(
                "ipai.tenant",
                "create",
                {
                    "code": "bp-new",
                    "name": "BP New",
                    "parent_id": provider_id,
                    "plan_id": trial,
                    **extra,
                },
            )
    assert query(platform_db, "SELECT count(*) FROM ipai_tenant") == count
    # What a form sends: no terms, or the trial end it computed from the plan.
    ((trial_days, computed_end),) = query(
        platform_db,
        "SELECT trial_days, (current_date + trial_days)::text FROM ipai_tenant_plan WHERE id = %s",
        [trial],
    )
    for code, extra in (("bp-new", {}), ("bp-form", {"trial_end": computed_end})):
        created = manager.call(
            "ipai.tenant",
            "create",
            {"code": code, "name": "BP New", "parent_id": provider_id, "plan_id": trial, **extra},
        )
        assert query(
            platform_db,
            "SELECT trial_end - current_date, partner_id, coalesce(bill_to_provider, false) "
            "FROM ipai_tenant WHERE id = %s",
            [created],
        ) == [(trial_days, None, False)]


def test_a_provider_cannot_backdate_or_pick_what_billing_decides(
    billed, admin_rpc, cli, platform_db
):
    """A date or a suspension reason smuggled in the request's context, a
    paid tenant put back on a trial, a period the plan has no price for."""
    manager, provider_id, _sub, _other = billed
    plans = dict(query(platform_db, "SELECT code, id FROM ipai_tenant_plan"))
    provision(cli, "bp-paid", "--parent", "bp-prov", "--plan", "starter")
    (paid,) = admin_rpc.call("ipai.tenant", "search", [("code", "=", "bp-paid")])
    backdated = {"context": {"ipai_billing_date": "2020-01-01"}}
    manager.call("ipai.tenant", "write", [paid], {"plan_id": plans["professional"]}, **backdated)
    assert query(
        platform_db,
        "SELECT date = current_date FROM ipai_tenant_plan_change WHERE tenant_id = %s",
        [paid],
    ) == [(True,)]
    with pytest.raises(RpcError, match="only the platform can put it back on a trial"):
        manager.call("ipai.tenant", "write", [paid], {"plan_id": plans["trial"]})
    # Bill-free: a paid plan without an annual price, chosen annual.
    admin_rpc.call("ipai.tenant.plan", "write", [plans["enterprise"]], {"price_annual": 0})
    with pytest.raises(RpcError, match="has no annual price"):
        manager.call(
            "ipai.tenant",
            "create",
            {
                "code": "bp-free",
                "name": "Free",
                "parent_id": provider_id,
                "plan_id": plans["enterprise"],
                "billing_period": "annual",
            },
        )
    admin_rpc.call("ipai.tenant.plan", "write", [plans["enterprise"]], {"price_annual": 5990})
    assert not query(platform_db, "SELECT 1 FROM ipai_tenant WHERE code = 'bp-free'")
    # A suspension "for unpaid" asked by the provider is its own, manual.
    manager.call(
        "ipai.tenant",
        "action_suspend",
        [paid],
        context={"ipai_suspension_reason": "unpaid", "ipai_billing_date": "2020-01-01"},
    )
    assert query(
        platform_db,
        "SELECT reason, date_start = current_date FROM ipai_tenant_suspension "
        "WHERE tenant_id = %s AND is_open",
        [paid],
    ) == [("manual", True)]
    assert cli("run-jobs").returncode == 0


def test_an_accountant_ties_no_invoice_to_a_tenant_or_a_billing_run(
    billed, admin_rpc, platform_server, platform_db
):
    """An accountant of the platform (Odoo's Billing rights, none on tenants)
    makes an invoice whose lines name another customer's tenant and whose
    header claims a billing run and a dunning stage, all through context
    defaults (a JSON-RPC caller picks its context): posted and overdue, such
    an invoice would get that tenant suspended by dunning. The invoice is
    made, with none of it stored."""
    _manager, _provider, sub, other = billed
    group = admin_rpc.call(
        "ir.model.data", "check_object_reference", "account", "group_account_invoice"
    )[1]
    admin_rpc.call(
        "res.users",
        "create",
        {
            "name": "BP Accountant",
            "login": "bp-accountant",
            "password": "bp-accountant-pass",
            "groups_id": [(6, 0, [group])],
        },
    )
    accountant = JsonRpc(platform_server.url, platform_db, "bp-accountant", "bp-accountant-pass")
    run_odoo_script(
        platform_db,
        "env['ipai.billing.run'].create({'month': '2000-01', 'date': '2000-01-31'})\n"
        "env.cr.commit()\n",
    )
    [(run,)] = query(platform_db, "SELECT id FROM ipai_billing_run WHERE month = '2000-01'")
    smuggled = {
        "default_ipai_tenant_id": sub,
        "default_ipai_billing_run_id": run,
        "default_ipai_billing_month": "2000-01",
        "default_ipai_dunning_stage": "reminded",
    }
    move = accountant.call(
        "account.move",
        "create",
        {
            "move_type": "out_invoice",
            "partner_id": other,
            "invoice_line_ids": [(0, 0, {"name": "Consulting", "quantity": 1, "price_unit": 90})],
        },
        context=smuggled,
    )
    line = accountant.call(
        "account.move.line",
        "create",
        {"move_id": move, "name": "More consulting", "quantity": 1, "price_unit": 10},
        context=smuggled,
    )
    assert query(
        platform_db,
        "SELECT ipai_billing_run_id, ipai_billing_month, ipai_dunning_stage "
        "FROM account_move WHERE id = %s",
        [move],
    ) == [(None, None, "none")]
    assert query(
        platform_db,
        "SELECT count(*) FROM account_move_line WHERE (move_id = %s OR id = %s) "
        "AND ipai_tenant_id IS NOT NULL",
        [move, line],
    ) == [(0,)]
    # And asked for outright, they are refused.
    with pytest.raises(RpcError, match="can only be set by the platform's billing"):
        accountant.call("account.move", "write", [move], {"ipai_dunning_stage": "suspended"})
    with pytest.raises(RpcError, match="Only the platform's billing bills a tenant"):
        accountant.call("account.move.line", "write", [line], {"ipai_tenant_id": sub})


def test_a_provider_lifts_its_own_suspension_only(billed, admin_rpc, cli, platform_db):
    manager, _provider, sub, _other = billed
    # Its own suspension: the provider may lift it.
    manager.call("ipai.tenant", "action_suspend", [sub])
    assert cli("run-jobs").returncode == 0
    wait_for_state(platform_db, "bp-sub", "suspended")
    manager.call("ipai.tenant", "action_reactivate", [sub])
    assert cli("run-jobs").returncode == 0
    wait_for_state(platform_db, "bp-sub", "active")

    # Suspended by the provider, then the trial ends (what the daily cron
    # does on the trial's last day): only converting the trial lifts that.
    manager.call("ipai.tenant", "action_suspend", [sub])
    assert cli("run-jobs").returncode == 0
    wait_for_state(platform_db, "bp-sub", "suspended")
    run_odoo_script(
        platform_db,
        "env['ipai.tenant'].search([('code', '=', 'bp-sub')])._suspend_for('trial_expired')\n"
        "env.cr.commit()\n",
    )
    open_reasons = (
        "SELECT reason FROM ipai_tenant_suspension WHERE tenant_id = %s AND is_open ORDER BY reason"
    )
    jobs = "SELECT count(*) FROM ipai_tenant_job WHERE tenant_id = %s"
    reasons, job_count = query(platform_db, open_reasons, [sub]), query(platform_db, jobs, [sub])
    assert reasons == [("manual",), ("trial_expired",)]
    with pytest.raises(RpcError, match="suspended for: Trial expired"):
        manager.call("ipai.tenant", "action_reactivate", [sub])
    assert query(platform_db, open_reasons, [sub]) == reasons
    assert query(platform_db, jobs, [sub]) == job_count
    assert terms(platform_db, sub)[0][-1] == "suspended"

    # The platform's operator may still decide to let it back in.
    admin_rpc.call("ipai.tenant", "action_reactivate", [sub])
    assert not query(platform_db, open_reasons, [sub])
    assert cli("run-jobs").returncode == 0
