from datetime import date

from odoo import fields
from odoo.tests import tagged

from ..billing import periods
from .common import BillingCase


@tagged("post_install", "-at_install")
class TestKpis(BillingCase):
    """A fixture history over September-October 2026, and the October KPIs
    computed by hand below."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Start from a clean slate: only the fixture's tenants have a history.
        cls.env["ipai.tenant"].search([]).sudo().write({"subscription_start": False})
        cls.provider = cls.make_active(
            "kpi-provider", cls.d("2026-09-01"), tenant_type="provider", plan_id=cls.plan_pro.id
        )
        cls.annual = cls.make_active(
            "kpi-annual", cls.d("2026-10-15"), plan_id=cls.plan_pro.id, billing_period="annual"
        )
        cls.gone = cls.make_active("kpi-gone", cls.d("2026-09-01"), plan_id=cls.plan_starter.id)
        cls.on_day(cls.gone, cls.d("2026-10-20"))._set_state_from_engine("archived")
        cls.converted = cls.make_active(
            "kpi-converted", cls.d("2026-10-01"), parent_id=cls.provider.id
        )
        cls.on_day(cls.converted, cls.d("2026-10-12")).plan_id = cls.plan_starter
        cls.expired = cls.make_active("kpi-expired", cls.d("2026-09-20"), parent_id=cls.provider.id)
        cls.on_day(cls.expired, cls.d("2026-10-04"))._record_suspension("trial_expired")
        cls.env["ipai.billing.kpi"]._refresh(date(2026, 9, 1), date(2026, 10, 1))

    def dashboard(self, **values):
        return self.env["ipai.billing.dashboard"].create({"month": "2026-10-01", **values})

    def test_october_by_hand(self):
        october = self.dashboard()
        # Active on 31 October: provider (199), annual (1990 / 12 = 165.83),
        # converted (49), expired (still subscribed, trial price 0).
        mrr = 199 + 165.83 + 49
        self.assertAlmostEqual(october.mrr, mrr)
        self.assertAlmostEqual(october.arr, mrr * 12)
        self.assertEqual(october.tenants_active, 4)
        self.assertEqual(october.tenants_paying, 3)
        self.assertAlmostEqual(october.arpu, round(mrr / 3, 2))
        self.assertEqual(october.tenants_new, 2)  # annual, converted
        self.assertEqual(october.tenants_churned, 1)  # gone
        # Active on 30 September: provider, gone, expired.
        self.assertAlmostEqual(october.churn_rate, round(100 / 3, 2))
        self.assertAlmostEqual(october.trial_conversion_rate, 50.0)

    def test_by_plan_and_provider(self):
        starter = self.dashboard(plan_id=self.plan_starter.id)
        self.assertAlmostEqual(starter.mrr, 49)
        self.assertEqual(starter.tenants_churned, 1)
        subtree = self.dashboard(provider_id=self.provider.id)
        self.assertAlmostEqual(subtree.mrr, 199 + 49)
        self.assertEqual(subtree.tenants_active, 3)
        september = self.dashboard(month="2026-09-01")
        self.assertAlmostEqual(september.mrr, 199 + 49)
        self.assertEqual(september.tenants_new, 3)

    def test_providers_see_their_own_subtree_only(self):
        user = self.make_provider_manager("kpi-provider-manager", self.provider)
        rows = self.env["ipai.billing.kpi"].with_user(user).search([])
        self.assertEqual(rows.tenant_id, self.provider | self.converted | self.expired)
        dashboard = (
            self.env["ipai.billing.dashboard"].with_user(user).create({"month": "2026-10-01"})
        )
        self.assertAlmostEqual(dashboard.mrr, 199 + 49)

    def test_other_currencies_are_converted_at_the_months_rate(self):
        eur = self.env.ref("base.EUR")
        eur.active = True
        # 1 USD = 0.8 EUR in October: a 100 EUR plan brings 125 USD of MRR.
        self.env["res.currency.rate"].create(
            {"currency_id": eur.id, "name": "2026-10-01", "rate": 0.8}
        )
        plan_eur = self.plan_starter.copy(
            {
                "code": "kpi-eur",
                "name": "Starter EUR",
                "currency_id": eur.id,
                "price_monthly": 100.0,
            }
        )
        self.make_active("kpi-euro", self.d("2026-10-02"), plan_id=plan_eur.id)
        self.env["ipai.billing.kpi"]._refresh(date(2026, 10, 1), date(2026, 10, 1))
        usd = self.dashboard()
        self.assertEqual(usd.currency_id, self.env.company.currency_id)
        mrr_usd = 199 + 165.83 + 49 + 125
        self.assertAlmostEqual(usd.mrr, mrr_usd)
        self.assertAlmostEqual(usd.arpu, round(mrr_usd / 4, 2))
        in_eur = self.dashboard(currency_id=eur.id)
        self.assertAlmostEqual(in_eur.mrr, round(mrr_usd * 0.8, 2), places=1)
        row = self.env["ipai.billing.kpi"].search([("plan_id", "=", plan_eur.id)])
        self.assertEqual((row.mrr, row.mrr_company), (100.0, 125.0))

    def test_the_menu_shows_this_months_figures_without_recompute(self):
        """A tenant activated today counts as soon as the dashboard is opened
        from the menu; nobody pressed Recompute, no cron ran."""
        this_month = periods.month_start(fields.Date.context_today(self.env.user))
        fresh = self.make_active("kpi-fresh", fields.Date.context_today(self.env.user))
        fresh.plan_id = self.plan_pro
        Kpi = self.env["ipai.billing.kpi"]
        self.assertNotIn(fresh, Kpi.search([("month", "=", this_month)]).tenant_id)
        action = self.env["ipai.billing.dashboard"].action_open()
        shown = self.env["ipai.billing.dashboard"].browse(action["res_id"])
        self.assertEqual(shown.month, this_month)
        self.assertNotEqual(shown.display_name, "New")
        self.assertIn(fresh, Kpi.search([("month", "=", this_month)]).tenant_id)
        # What the nightly cron's full rebuild would show.
        Kpi._refresh()
        rebuilt = self.env["ipai.billing.dashboard"].create({"month": this_month})
        self.assertAlmostEqual(shown.mrr, rebuilt.mrr)
        self.assertEqual(shown.tenants_active, rebuilt.tenants_active)
        self.assertGreaterEqual(shown.mrr, 199)
        # The trend: twelve months, the last one this month's.
        self.assertEqual(shown.trend.count("<tr><td>"), 12)
        self.assertIn("Oct 2026", shown.trend)

    def test_a_provider_opens_the_dashboard_of_its_subtree(self):
        user = self.make_provider_manager("kpi-provider-opener", self.provider)
        action = self.env["ipai.billing.dashboard"].with_user(user).action_open()
        shown = self.env["ipai.billing.dashboard"].with_user(user).browse(action["res_id"])
        october = shown.copy({"month": "2026-10-01"})
        self.assertAlmostEqual(october.mrr, 199 + 49)
        self.assertEqual(october.tenants_active, 3)  # provider, converted, expired
