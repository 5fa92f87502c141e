from datetime import timedelta

from odoo.tests import tagged

from .common import BillingCase


@tagged("post_install", "-at_install")
class TestTrials(BillingCase):
    def test_reminders_on_the_right_days_then_suspension_and_archive(self):
        tenant = self.make_active("trial-one", self.d("2026-11-01"))
        tenant.trial_end = self.d("2026-11-15")
        received = {}
        day = self.d("2026-11-01")
        while day < tenant.trial_end:
            received[day] = self.daily(day)
            day += timedelta(days=1)
        reminder_days = {day: msgs for day, msgs in received.items() if msgs}
        self.assertEqual(
            sorted(reminder_days),
            [self.d("2026-11-08"), self.d("2026-11-12"), self.d("2026-11-14")],
        )
        for day, messages in reminder_days.items():
            self.assertEqual(len(messages), 1)
            recipients, message = messages[0]
            self.assertEqual(recipients, ["admin@trial-one.example"])
            left = (tenant.trial_end - day).days
            self.assertIn(f"ends in {left} day(s)", message["Subject"])
        self.assertEqual(tenant.state, "active")
        self.assertFalse(self.open_job(tenant))

        # The trial's last day: a suspend job, with the reason recorded.
        self.daily(self.d("2026-11-15"))
        self.assertEqual(self.open_job(tenant).job_type, "suspend")
        self.assertEqual(tenant.suspension_reason, "Trial expired")
        self.engine_finishes(tenant, "suspended")

        # Suspended 21 days (the default): warned 2 days before, archived after.
        self.assertFalse(self.daily(self.d("2026-12-03")))
        warning = self.daily(self.d("2026-12-04"))
        self.assertEqual(len(warning), 1)
        self.assertIn("archived on 2026-12-06", warning[0][1]["Subject"])
        self.assertFalse(self.daily(self.d("2026-12-05")))
        self.assertFalse(self.open_job(tenant))
        self.daily(self.d("2026-12-06"))
        job = self.open_job(tenant)
        self.assertEqual(job.job_type, "archive")
        self.assertEqual(job.step_ids.sorted("sequence")[0].name, "backup")

    def test_a_converted_trial_is_neither_reminded_nor_suspended(self):
        tenant = self.make_active("trial-two", self.d("2026-11-01"))
        tenant.trial_end = self.d("2026-11-15")
        self.on_day(tenant, self.d("2026-11-05")).plan_id = self.plan_starter
        self.engine_finishes(tenant, "active")
        for offset in range(15):
            self.assertFalse(self.daily(self.d("2026-11-05") + timedelta(days=offset)))
        self.assertEqual(tenant.state, "active")
        self.assertFalse(tenant.suspension_ids)

    def test_automatic_reactivation_lifts_only_its_own_reason(self):
        tenant = self.make_active(
            "both-reasons", self.d("2026-11-01"), plan_id=self.plan_starter.id
        )
        self.on_day(tenant, self.d("2026-11-02")).action_suspend()
        self.engine_finishes(tenant, "suspended")
        tenant._suspend_for("unpaid")
        self.assertEqual(tenant.suspension_reason, "Manual, Unpaid")
        self.assertFalse(self.open_job(tenant))

        tenant._lift_suspension("unpaid")
        self.assertEqual(tenant.suspension_reason, "Manual")
        self.assertFalse(self.open_job(tenant), "the manual suspension still holds")
        self.assertEqual(tenant.state, "suspended")

        tenant.action_reactivate()
        self.assertEqual(self.open_job(tenant).job_type, "reactivate")
        self.assertFalse(tenant.suspension_reason)

    def test_reasons_recorded_while_a_job_runs_apply_after_it(self):
        tenant = self.make_active("busy-one", self.d("2026-11-01"))
        tenant.trial_end = self.d("2026-11-10")
        tenant.action_backup()
        self.daily(self.d("2026-11-10"))
        self.assertEqual(self.open_job(tenant).job_type, "backup")
        self.assertEqual(tenant.suspension_reason, "Trial expired")
        self.engine_finishes(tenant, "active")
        self.daily(self.d("2026-11-11"))
        self.assertEqual(self.open_job(tenant).job_type, "suspend")

    def test_converting_an_expired_trial_brings_the_tenant_back(self):
        tenant = self.make_active("trial-late", self.d("2026-11-01"))
        tenant.trial_end = self.d("2026-11-15")
        self.daily(self.d("2026-11-15"))
        self.engine_finishes(tenant, "suspended")
        wizard = self.env["ipai.tenant.change.plan"].create(
            {"tenant_id": tenant.id, "plan_id": self.plan_starter.id}
        )
        self.on_day(wizard, self.d("2026-11-18")).action_apply()
        self.assertEqual(self.open_job(tenant).job_type, "change_plan")
        self.assertFalse(tenant.suspension_reason)
        self.engine_finishes(tenant, "suspended")
        self.daily(self.d("2026-11-19"))
        self.assertEqual(self.open_job(tenant).job_type, "reactivate")
