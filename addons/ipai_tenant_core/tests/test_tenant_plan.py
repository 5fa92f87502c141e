from odoo.exceptions import ValidationError
from odoo.tools import mute_logger
from psycopg2 import IntegrityError

from .common import TenantCase


class TestTenantPlan(TenantCase):
    def test_seeded_plans_carry_the_documented_limits(self):
        expected = {
            "trial": (0, 1, 3, 100),
            "starter": (49, 1, 5, 1000),
            "professional": (199, 3, 20, 10000),
            "enterprise": (599, 10, 100, 100000),
            "unlimited": (1999, 999, 999, 999999),
        }
        for code, limits in expected.items():
            plan = self.env["ipai.tenant.plan"].search([("code", "=", code)])
            with self.subTest(plan=code):
                self.assertEqual(
                    (
                        plan.price_monthly,
                        plan.max_companies,
                        plan.max_users,
                        plan.max_transactions_month,
                    ),
                    limits,
                )
        provider = self.env.ref("ipai_tenant_core.plan_provider")
        self.assertTrue(provider.feature_white_label and provider.feature_sub_tenants)

    def test_module_set_always_contains_the_base(self):
        self.assertEqual(self.plan_trial._module_names(), ["base", "contacts", "mail", "web"])

    @mute_logger("odoo.sql_db")
    def test_negative_limits_are_refused(self):
        with self.assertRaises(IntegrityError), self.cr.savepoint():
            self.env["ipai.tenant.plan"].create(
                {"code": "broken", "name": "Broken", "max_users": 0}
            )

    def test_users_per_company_cannot_exceed_users(self):
        with self.assertRaises(ValidationError):
            self.env["ipai.tenant.plan"].create(
                {"code": "odd", "name": "Odd", "max_users": 2, "max_users_per_company": 5}
            )

    def test_seeded_tenants(self):
        seeds = {
            "platform": ("platform_owner", "InsightPulse AI Platform"),
            "tbwa": ("client", "TBWA Philippines"),
            "scout": ("internal", "Scout Retail Intelligence"),
        }
        for code, (tenant_type, name) in seeds.items():
            tenant = self.Tenant.search([("code", "=", code)])
            self.assertEqual((tenant.tenant_type, tenant.name), (tenant_type, name))
