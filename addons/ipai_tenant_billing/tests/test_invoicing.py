from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import BillingCase


@tagged("post_install", "-at_install")
class TestInvoicing(BillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A white-label reseller: the provider pays for its sub-tenants.
        cls.plan_starter.feature_white_label = True
        cls.reseller = cls.make_active(
            "reseller", cls.d("2026-10-01"), tenant_type="provider", plan_id=cls.plan_starter.id
        )
        cls.alpha = cls.make_active("alpha", cls.d("2026-11-01"), plan_id=cls.plan_starter.id)
        cls.late = cls.make_active("late", cls.d("2026-11-10"), plan_id=cls.plan_starter.id)
        # Its two sub-tenants, on different plans, billed to it.
        cls.sub_one, cls.sub_two = (
            cls.make_active(
                code,
                cls.d("2026-11-01"),
                parent_id=cls.reseller.id,
                bill_to_provider=True,
                plan_id=plan.id,
            )
            for code, plan in (("sub-one", cls.plan_pro), ("sub-two", cls.plan_starter))
        )

    def assert_invoice(self, run, tenant, lines):
        """``run`` made one invoice to ``tenant``'s billing contact, with
        ``lines`` (name, total; sorted by name); returns it."""
        [move] = run.move_ids.filtered(lambda m: m.partner_id == tenant.partner_id)
        self.assertEqual(
            sorted((line.name, round(line.price_total, 2)) for line in move.invoice_line_ids),
            lines,
        )
        return move

    def test_one_invoice_per_partner_with_proration_and_overage(self):
        november = self.Run._bill("2026-11-01")
        self.assertEqual(len(november.move_ids), 2)  # alpha; reseller (with its sub-tenants)
        self.assertTrue(all(m.state == "posted" for m in november.move_ids))
        self.assert_invoice(
            november,
            self.reseller,
            [
                # Started in October, first billed now: October is caught up.
                ("reseller · Starter 2026-10-01 to 2026-10-31", 49.0),
                ("reseller · Starter 2026-11-01 to 2026-11-30", 49.0),
                ("sub-one · Professional 2026-11-01 to 2026-11-30", 199.0),
                ("sub-two · Starter 2026-11-01 to 2026-11-30", 49.0),
            ],
        )
        self.assertEqual(self.alpha.billed_until, self.d("2026-11-30"))

        # The worked example: Starter -> Professional with effect on 21 November.
        self.on_day(self.alpha, self.d("2026-11-21")).plan_id = self.plan_pro
        self.engine_finishes(self.alpha, "active")
        self.env["ipai.tenant.metric"].create(
            {
                "tenant_id": self.late.id,
                "date": self.d("2026-11-28"),
                "plan_id": self.plan_starter.id,
                "records_month": 1500,
                "db_size_mb": 5120,
                "filestore_mb": 1024,
            }
        )
        december = self.on_day(self.Run, "2026-12-01")._bill("2026-12-01")
        alpha_move = self.assert_invoice(
            december,
            self.alpha,
            [
                ("alpha · Professional 2026-12-01 to 2026-12-31", 199.0),
                ("alpha · Professional, rest of the period 2026-11-21 to 2026-11-30", 66.33),
                ("alpha · credit for unused Starter 2026-11-21 to 2026-11-30", -16.33),
            ],
        )
        self.assertAlmostEqual(alpha_move.amount_total, 249.0)
        late_move = self.assert_invoice(
            december,
            self.late,
            [
                ("late · 1.0 GB of storage over the 5 GB of Starter in 2026-11", 2.0),
                ("late · 500 transactions over the 1000 of Starter in 2026-11", 25.0),
                ("late · Starter 2026-11-10 to 2026-11-30", 34.3),
                ("late · Starter 2026-12-01 to 2026-12-31", 49.0),
            ],
        )
        self.assertEqual(late_move.currency_id, self.plan_starter.currency_id)

    def test_a_period_is_billed_once(self):
        run = self.Run._bill("2026-11-01")
        moves = self.env["account.move"].search_count([])
        with self.assertRaises(UserError) as caught:
            self.Run._bill("2026-11-20")
        self.assertIn("already billed", str(caught.exception))
        self.assertEqual(self.env["account.move"].search_count([]), moves)
        self.assertEqual(self.Run.search([]), run)

    def test_a_future_period_is_refused(self):
        with self.assertRaises(UserError) as caught:
            self.Run._bill("2999-01-01")
        self.assertIn("future period", str(caught.exception))
        self.assertFalse(self.Run.search([]))

    def test_an_annual_tenant_is_billed_once_a_year(self):
        annual = self.make_active(
            "yearly", self.d("2026-03-10"), plan_id=self.plan_pro.id, billing_period="annual"
        )
        march = self.Run._bill("2026-03-10")
        # 10 March 2026 to 28 February 2027: 356 of the period's 365 days.
        self.assert_invoice(
            march, annual, [("yearly · Professional 2026-03-10 to 2027-02-28", 1940.93)]
        )
        april = self.Run._bill("2026-04-01")
        self.assertFalse(
            april.move_ids.invoice_line_ids.filtered(lambda line: line.ipai_tenant_id == annual)
        )
