from odoo.tests import tagged

from .common import BillingCase


@tagged("post_install", "-at_install")
class TestDunning(BillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tenant = cls.make_active("debtor", cls.d("2026-10-01"), plan_id=cls.plan_starter.id)
        cls.move = cls.Run._bill("2026-10-01").move_ids
        cls.move.partner_id.email = "accounts@debtor.example"

    def pay(self, move):
        wizard = (
            self.env["account.payment.register"]
            .with_context(active_model="account.move", active_ids=move.ids)
            .create({"payment_date": self.d("2026-10-20")})
        )
        wizard.action_create_payments()

    def test_reminder_then_suspension_then_reactivation_on_payment(self):
        self.assertEqual(self.move.invoice_date_due, self.d("2026-10-01"))
        self.assertFalse(self.daily(self.d("2026-10-07")))
        reminder = self.daily(self.d("2026-10-08"))  # 7 days after the due date
        self.assertEqual(len(reminder), 1)
        recipients, message = reminder[0]
        self.assertEqual(recipients, ["accounts@debtor.example"])
        self.assertIn(self.move.name, message["Subject"])
        self.assertEqual(self.move.ipai_dunning_stage, "reminded")
        self.assertFalse(self.daily(self.d("2026-10-09")), "one reminder only")
        self.assertFalse(self.open_job(self.tenant))

        self.daily(self.d("2026-10-15"))  # 14 days after the due date
        self.assertEqual(self.open_job(self.tenant).job_type, "suspend")
        self.assertEqual(self.tenant.suspension_reason, "Unpaid")
        self.assertEqual(self.move.ipai_dunning_stage, "suspended")
        self.engine_finishes(self.tenant, "suspended")

        self.pay(self.move)
        self.assertIn(self.move.payment_state, ("paid", "in_payment"))
        self.assertEqual(self.open_job(self.tenant).job_type, "reactivate")
        self.assertFalse(self.tenant.suspension_reason)

    def test_payment_does_not_lift_an_operator_suspension(self):
        self.daily(self.d("2026-10-15"))
        self.engine_finishes(self.tenant, "suspended")
        self.tenant.with_context(ipai_suspension_reason="manual")._record_suspension("manual")
        self.pay(self.move)
        self.assertFalse(self.open_job(self.tenant))
        self.assertEqual(self.tenant.state, "suspended")
        self.assertEqual(self.tenant.suspension_reason, "Manual")
