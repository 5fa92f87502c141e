from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger
from psycopg2 import IntegrityError

from .common import BillingCase


@tagged("post_install", "-at_install")
class TestPlanChange(BillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tenant = cls.make_active("changer", cls.d("2026-11-01"), plan_id=cls.plan_pro.id)

    def change_plan(self, plan):
        wizard = self.env["ipai.tenant.change.plan"].create(
            {"tenant_id": self.tenant.id, "plan_id": plan.id}
        )
        return self.on_day(wizard, self.d("2026-11-21")).action_apply()

    def assert_refused(self, plan, *fragments):
        with self.assertRaises(UserError) as caught:
            self.change_plan(plan)
        for fragment in fragments:
            self.assertIn(fragment, str(caught.exception))
        self.assertEqual(self.tenant.plan_id, self.plan_pro)
        self.assertFalse(self.tenant.plan_change_ids)
        self.assertFalse(self.open_job(self.tenant))

    def test_a_change_is_recorded_with_what_was_billed(self):
        self.tenant.sudo().billed_until = self.d("2026-11-30")
        self.change_plan(self.plan_starter)
        change = self.tenant.plan_change_ids
        self.assertEqual(
            (change.date, change.old_plan_id, change.new_plan_id, change.billed_until),
            (self.d("2026-11-21"), self.plan_pro, self.plan_starter, self.d("2026-11-30")),
        )
        # The existing change_plan job pushes the limits and installs modules.
        self.assertEqual(self.open_job(self.tenant).job_type, "change_plan")

    def test_same_plan(self):
        self.assert_refused(self.plan_pro, "already on this plan")

    def test_archived_plan(self):
        self.plan_starter.active = False
        self.assert_refused(self.plan_starter, "archived")

    def test_while_a_job_is_open(self):
        self.tenant.action_backup()
        with self.assertRaises(UserError) as caught:
            self.change_plan(self.plan_starter)
        self.assertIn("open job", str(caught.exception))
        self.assertEqual(self.tenant.plan_id, self.plan_pro)
        self.assertFalse(self.tenant.plan_change_ids)

    def test_downgrade_refused_naming_each_excess(self):
        self.env["ipai.tenant.metric"].create(
            {
                "tenant_id": self.tenant.id,
                "date": self.d("2026-11-20"),
                "internal_users": 8,
                "companies": 2,
                "db_size_mb": 6000,
                "filestore_mb": 400,
            }
        )
        self.assert_refused(
            self.plan_starter,
            "8 users (limit 5)",
            "2 companies (limit 1)",
            "6.25 GB of storage (limit 5 GB)",
        )

    def test_negative_prices_and_limits_are_refused(self):
        for values in (
            {"price_monthly": -1},
            {"price_transaction_overage": -0.01},
            {"price_storage_overage": -2},
            {"max_transactions_month": -3},
        ):
            with (
                self.subTest(values=values),
                mute_logger("odoo.sql_db"),
                self.assertRaises(IntegrityError),
                self.env.cr.savepoint(),
            ):
                self.plan_starter.write(values)
                self.plan_starter.flush_recordset()

    def test_billing_fields_belong_to_billing(self):
        from odoo.exceptions import AccessError

        manager_env = self.tenant.with_user(self.manager)
        with self.assertRaises(AccessError):
            manager_env.write({"billed_until": "2027-01-31"})
