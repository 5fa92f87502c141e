"""`make bill-tenants`: the command an operator runs, on a copy of the
platform database, printing what it invoiced and refusing a second run."""

from datetime import date, timedelta

import pytest

from .support import RUN_ID, copy_database, drop_database, query, run_script


def run_billing_cli(billing_db, *args):
    return run_script("bill_tenants.py", billing_db, *args)


def month_start(day, back=0):
    for _ in range(back):
        day = day.replace(day=1) - timedelta(days=1)
    return day.replace(day=1)


@pytest.fixture
def billing_db(template_db):
    name = f"{RUN_ID}_billing"
    drop_database(name)
    copy_database(template_db, name)
    yield name
    drop_database(name)


def move_count(dbname):
    return query(dbname, "SELECT count(*) FROM account_move")[0][0]


def test_bill_tenants_prints_what_it_invoiced_once(billing_db):
    today = date.today()
    started, billed = month_start(today, back=2), month_start(today, back=1)
    # The seed client tbwa (Professional, 199.00 a month), as if provisioned
    # two months ago.
    query(
        billing_db,
        "UPDATE ipai_tenant SET state = 'active', subscription_start = %s,"
        " admin_email = 'admin@tbwa.example' WHERE code = 'tbwa'",
        [started],
    )
    result = run_billing_cli(billing_db, "--date", billed.isoformat())
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"period {billed:%Y-%m}: 1 invoice(s)" in out
    assert "TBWA Philippines  398.00 USD" in out
    billed_end = month_start(today) - timedelta(days=1)
    assert f"tbwa · Professional {billed} to {billed_end}  1 x 199.00" in out
    assert f"tbwa · Professional {started} to " in out
    posted = query(
        billing_db, "SELECT state, amount_total FROM account_move WHERE move_type = 'out_invoice'"
    )
    assert [(state, float(total)) for state, total in posted] == [("posted", 398.0)]

    moves = move_count(billing_db)
    again = run_billing_cli(billing_db, "--date", billed.isoformat())
    assert again.returncode == 2
    assert "already billed" in again.stderr
    assert move_count(billing_db) == moves

    future = run_billing_cli(
        billing_db, "--date", month_start(today + timedelta(days=62)).isoformat()
    )
    assert future.returncode == 2
    assert "future period" in future.stderr
    bad = run_billing_cli(billing_db, "--date", "2026-13-01")
    assert bad.returncode == 2
    assert "is not a date" in bad.stderr
    assert move_count(billing_db) == moves
