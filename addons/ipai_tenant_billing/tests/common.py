"""Fixtures of the billing tests: a real SMTP server on loopback
(mail_sink.py) that Odoo's mail queue delivers to, and helpers that move
tenants through the life cycle as the provisioning engine would (no tenant
database needed)."""

from datetime import date

from odoo.addons.ipai_platform_rules import jobs
from odoo.addons.ipai_tenant_core.tests.common import TenantCase

from .mail_sink import SmtpSink


class BillingCase(TenantCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.smtp = cls.loopback_destination(SmtpSink(), "ir.mail_server")
        cls.env["ir.mail_server"].create(
            {
                "name": "test sink",
                "smtp_host": "127.0.0.1",
                "smtp_port": cls.smtp.port,
                "smtp_encryption": "none",
                "sequence": 1,
            }
        )
        cls.env.company.email = "billing@platform.example"
        cls.env.user.email = "admin@platform.example"
        cls.plan_starter = cls.env.ref("ipai_tenant_core.plan_starter")
        cls.plan_starter.write({"price_transaction_overage": 0.05, "price_storage_overage": 2.0})
        cls.Run = cls.env["ipai.billing.run"]

    def setUp(self):
        super().setUp()
        self.smtp.take()

    @classmethod
    def on_day(cls, records, day):
        return records.with_context(ipai_billing_date=day)

    @classmethod
    def make_active(cls, code, day, **values):
        """A tenant the engine provisioned on ``day``."""
        values.setdefault("admin_email", f"admin@{code}.example")
        tenant = cls.make_tenant(code, **values)
        tenant._set_state_from_engine("provisioning")
        cls.on_day(tenant, day)._set_state_from_engine("active")
        return tenant

    def engine_finishes(self, tenant, state):
        """What the runner does once a queued job ends: the job is done and
        the tenant in its final state."""
        self.open_job(tenant).sudo().state = "done"
        tenant._set_state_from_engine(state)
        tenant.invalidate_recordset()

    def open_job(self, tenant):
        return tenant.job_ids.filtered(lambda j: j.state in jobs.OPEN_STATES)

    def daily(self, day):
        """The daily billing cron on ``day``, then Odoo's mail queue; returns
        what the SMTP server received from it (mail queued earlier, such as
        the chatter's notifications, is delivered and set aside first)."""
        self.env["mail.mail"].process_email_queue()
        self.smtp.take()
        self.env["ipai.tenant"]._cron_billing_daily(day)
        self.env["mail.mail"].process_email_queue()
        self.env.invalidate_all()
        return self.smtp.take()

    @staticmethod
    def d(text):
        return date.fromisoformat(text)
