from odoo.addons.ipai_platform_rules import naming
from odoo.exceptions import ValidationError
from odoo.tools import mute_logger
from psycopg2 import IntegrityError

from .common import TenantCase


class TestTenantCode(TenantCase):
    def test_valid_code_derives_names(self):
        tenant = self.make_tenant("acme-corp")
        self.assertEqual(tenant.database_name, "odoo_acme-corp")
        self.assertEqual(tenant.analytics_schema, "tenant_acme_corp")
        self.assertEqual(tenant.primary_domain, "acme-corp.localhost")
        self.assertEqual(tenant.state, "draft")

    def test_invalid_codes_are_refused(self):
        bad_codes = [
            "A",
            "a",
            "Acme",
            "1acme",
            "acme_corp",
            "acme corp",
            "acme;drop",
            'acme"',
            "acme-",
            "ac--me",
            "x" * 31,
            "émile",
        ]
        for code in bad_codes:
            with self.subTest(code=code), self.assertRaises(ValidationError):
                self.make_tenant(code)
        self.assertFalse(self.Tenant.search([("code", "in", bad_codes)]))

    def test_reserved_codes_are_refused(self):
        for code in ("postgres", "template0", "template1", "admin"):
            with self.subTest(code=code), self.assertRaises(ValidationError):
                self.make_tenant(code)

    def test_code_naming_platform_database_is_refused(self):
        self.assertTrue(naming.code_problem("acme", platform_database="odoo_acme"))
        self.assertTrue(naming.code_problem("acme", platform_database="acme"))
        self.assertIsNone(naming.code_problem("acme", platform_database="ipai_platform"))

    @mute_logger("odoo.sql_db")
    def test_duplicate_code_is_refused(self):
        self.make_tenant("dupe")
        with self.assertRaises(IntegrityError), self.cr.savepoint():
            self.make_tenant("dupe", name="Other")
        self.assertEqual(self.Tenant.search_count([("code", "=", "dupe")]), 1)

    def test_database_name_fits_postgres_identifier(self):
        tenant = self.make_tenant("a" + "b" * 29)
        self.assertLessEqual(len(tenant.database_name.encode()), 63)

    def test_invalid_admin_email_is_refused(self):
        with self.assertRaises(ValidationError):
            self.make_tenant("mailer", admin_email="not an address")
        tenant = self.make_tenant("mailer", admin_email="boss@mailer.example")
        self.assertEqual(tenant.admin_email, "boss@mailer.example")

    def test_trial_end_follows_plan(self):
        tenant = self.make_tenant("trialist")
        self.assertTrue(tenant.trial_end)
        paying = self.make_tenant("payer", plan_id=self.plan_pro.id)
        self.assertFalse(paying.trial_end)
