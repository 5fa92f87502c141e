"""The plain-Python billing arithmetic, including the worked proration
example of docs/billing.md."""

from datetime import date
from decimal import Decimal
from unittest import TestCase

from odoo.addons.ipai_tenant_billing.billing import kpis, periods


class TestPeriods(TestCase):
    def test_monthly_periods_are_calendar_months(self):
        self.assertEqual(
            periods.period_bounds("monthly", date(2026, 1, 15), date(2026, 2, 10)),
            (date(2026, 2, 1), date(2026, 2, 28)),
        )

    def test_annual_periods_run_twelve_months_from_the_anchor_month(self):
        anchor = date(2026, 3, 10)
        self.assertEqual(
            periods.period_bounds("annual", anchor, date(2026, 3, 10)),
            (date(2026, 3, 1), date(2027, 2, 28)),
        )
        self.assertEqual(
            periods.period_bounds("annual", anchor, date(2028, 2, 29)),
            (date(2027, 3, 1), date(2028, 2, 29)),
        )

    def test_split_by_period_cuts_at_month_ends(self):
        pieces = periods.split_by_period("monthly", None, date(2026, 11, 10), date(2026, 12, 31))
        self.assertEqual(
            pieces,
            [
                (date(2026, 11, 1), date(2026, 11, 30), date(2026, 11, 10), date(2026, 11, 30)),
                (date(2026, 12, 1), date(2026, 12, 31), date(2026, 12, 1), date(2026, 12, 31)),
            ],
        )

    def test_plan_segments_follow_the_changes(self):
        changes = [(date(2026, 11, 21), "starter", "pro"), (date(2026, 12, 5), "pro", "ent")]
        self.assertEqual(
            periods.plan_segments(changes, "ent", date(2026, 11, 1), date(2026, 12, 31)),
            [
                ("starter", date(2026, 11, 1), date(2026, 11, 20)),
                ("pro", date(2026, 11, 21), date(2026, 12, 4)),
                ("ent", date(2026, 12, 5), date(2026, 12, 31)),
            ],
        )
        self.assertEqual(
            periods.plan_segments([], "ent", date(2026, 1, 1), date(2026, 1, 31)),
            [("ent", date(2026, 1, 1), date(2026, 1, 31))],
        )


class TestWorkedProrationExample(TestCase):
    """docs/billing.md: Starter (49.00 a month) billed for November 2026 in
    advance; upgraded to Professional (199.00) with effect on 21 November."""

    def test_credit_and_charge_of_the_last_ten_days(self):
        lines = periods.plan_change_settlement(
            "monthly", date(2026, 11, 1), date(2026, 11, 21), date(2026, 11, 30), 49, 199
        )
        self.assertEqual(
            [(sign, first, last, amount) for sign, _pf, _pl, first, last, amount in lines],
            [
                (-1, date(2026, 11, 21), date(2026, 11, 30), Decimal("16.33")),
                (1, date(2026, 11, 21), date(2026, 11, 30), Decimal("66.33")),
            ],
        )

    def test_nothing_to_settle_for_days_not_billed_yet(self):
        self.assertEqual(
            periods.plan_change_settlement(
                "monthly", date(2026, 11, 1), date(2026, 12, 2), date(2026, 11, 30), 49, 199
            ),
            [],
        )

    def test_partial_first_period(self):
        # Started on 10 November: 21 of 30 days.
        self.assertEqual(
            periods.prorate(
                49, date(2026, 11, 1), date(2026, 11, 30), date(2026, 11, 10), date(2026, 11, 30)
            ),
            Decimal("34.30"),
        )

    def test_annual_proration_uses_the_days_of_the_year(self):
        # 1990.00 a year, upgraded with 100 of 365 days left: 545.21.
        self.assertEqual(
            periods.prorate(
                1990, date(2026, 3, 1), date(2027, 2, 28), date(2026, 11, 21), date(2027, 2, 28)
            ),
            Decimal("545.21"),
        )


class TestKpiFormulas(TestCase):
    prices = {"starter": (49, 490), "pro": (199, 1990), "trial": (0, 0)}

    def test_month_facts_and_summary(self):
        histories = [
            kpis.TenantHistory("a", "starter", "monthly", date(2026, 9, 3)),
            kpis.TenantHistory("b", "pro", "annual", date(2026, 10, 15)),
            kpis.TenantHistory("c", "starter", "monthly", date(2026, 9, 1), date(2026, 10, 20)),
            kpis.TenantHistory(
                "d",
                "starter",
                "monthly",
                date(2026, 10, 1),
                changes=[(date(2026, 10, 12), "trial", "starter")],
                trial_converted=date(2026, 10, 12),
            ),
            kpis.TenantHistory(
                "e", "trial", "monthly", date(2026, 9, 20), trial_expired=date(2026, 10, 4)
            ),
        ]
        facts = [kpis.month_fact(h, date(2026, 10, 1), self.prices) for h in histories]
        summary = kpis.summarize(facts)
        # Active at 31 Oct: a (49), b (1990 / 12 = 165.83), d (49), e (trial, 0).
        self.assertEqual(summary["mrr"], Decimal("263.83"))
        self.assertEqual(summary["arr"], Decimal("3165.96"))
        self.assertEqual(summary["active"], 4)
        self.assertEqual(summary["paying"], 3)
        self.assertEqual(summary["arpu"], Decimal("87.94"))
        self.assertEqual(summary["new"], 2)  # b, d
        self.assertEqual(summary["churned"], 1)  # c
        # Active on 30 September: a, c, e -> 1 / 3.
        self.assertEqual(summary["churn_rate"], Decimal("0.3333"))
        # d converted, e expired.
        self.assertEqual(summary["trial_conversion_rate"], Decimal("0.5000"))
