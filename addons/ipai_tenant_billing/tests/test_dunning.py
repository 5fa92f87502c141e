from odoo.exceptions import AccessError, UserError
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

    def suspended_unpaid(self):
        self.daily(self.d("2026-10-15"))
        self.engine_finishes(self.tenant, "suspended")
        self.assertEqual(self.tenant.suspension_reason, "Unpaid")

    def assert_lifted(self):
        self.assertFalse(self.tenant.suspension_reason)
        self.assertEqual(self.open_job(self.tenant).job_type, "reactivate")

    def test_a_cancelled_invoice_lifts_its_suspension(self):
        self.suspended_unpaid()
        self.move.button_cancel()
        self.assertEqual(self.move.state, "cancel")
        self.assert_lifted()
        self.assertEqual(self.move.ipai_dunning_stage, "none")

    def test_an_invoice_reset_to_draft_is_still_owed(self):
        # Reset to draft to correct it, it is posted again: still owed.
        self.suspended_unpaid()
        self.move.button_draft()
        self.assertEqual(self.tenant.suspension_reason, "Unpaid")
        self.assertFalse(self.open_job(self.tenant))

    def test_an_accountant_cannot_take_an_invoice_out_of_dunning(self):
        accountant = self.env["res.users"].create(
            {
                "name": "Accountant",
                "login": "dunning-accountant",
                "groups_id": [(6, 0, [self.env.ref("account.group_account_invoice").id])],
            }
        )
        move = self.move.with_user(accountant)
        for values in ({"ipai_dunning_stage": "suspended"}, {"ipai_billing_run_id": False}):
            with self.assertRaisesRegex(AccessError, "platform's billing"):
                move.write(values)
        with self.assertRaisesRegex(AccessError, "platform's billing"):
            move.invoice_line_ids[:1].write({"ipai_tenant_id": False})
        self.assertEqual(self.move.ipai_dunning_stage, "none")
        self.assertTrue(self.move.ipai_billing_run_id)

    def test_an_invoice_reversed_by_a_credit_note_lifts_its_suspension(self):
        self.suspended_unpaid()
        reversal = (
            self.env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=self.move.ids)
            .create({"journal_id": self.move.journal_id.id, "date": self.d("2026-10-16")})
        )
        reversal.refund_moves()
        # Posting the credit note matches it with the invoice.
        self.move.reversal_move_ids.action_post()
        self.assertEqual(self.move.payment_state, "reversed")
        self.assert_lifted()

    def test_a_provider_cannot_lift_an_unpaid_suspension(self):
        provider = self.make_active("dunned-provider", self.d("2026-09-01"), tenant_type="provider")
        self.tenant.sudo().parent_id = provider
        manager = self.make_provider_manager("dunned-manager", provider)
        self.suspended_unpaid()
        with self.assertRaisesRegex(UserError, "suspended for: Unpaid"):
            self.tenant.with_user(manager).action_reactivate()
        self.assertFalse(self.open_job(self.tenant))
        self.assertEqual(self.tenant.suspension_reason, "Unpaid")
