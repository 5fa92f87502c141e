from odoo.addons.ipai_tenant_core.models.ipai_tenant_secret import WELCOME_LINK
from odoo.addons.ipai_tenant_core.tests.common import TenantCase
from odoo.tests import tagged
from odoo.tools import mute_logger

LINK = "http://welcome.localhost/web/reset_password?token=the-one-time-token"


@tagged("post_install", "-at_install")
class TestWelcomeMail(TenantCase):
    """The activation leaves the set-password link encrypted; the cron it
    wakes makes the mail, once."""

    def mails_to(self, address):
        return self.env["mail.mail"].sudo().search([("email_to", "=", address)])

    def link_of(self, tenant):
        return (
            self.env["ipai.tenant.secret"]
            .sudo()
            .search([("tenant_id", "=", tenant.id), ("kind", "=", WELCOME_LINK)])
        )

    def test_the_link_waits_encrypted_and_the_cron_mails_it_once(self):
        tenant = self.make_tenant("welcome-cron", admin_email="ann@welcome-cron.example")
        cron = self.env.ref("ipai_tenant_engine.ir_cron_send_welcome_mails")
        triggers = self.env["ir.cron.trigger"].sudo().search_count([("cron_id", "=", cron.id)])
        tenant._queue_welcome_mail(LINK)
        self.assertFalse(self.mails_to(tenant.admin_email), "no mail made on the signup's path")
        stored = self.link_of(tenant)
        self.assertNotIn("the-one-time-token", stored.token)
        self.assertEqual(tenant._secret(WELCOME_LINK), LINK)
        self.assertEqual(
            self.env["ir.cron.trigger"].sudo().search_count([("cron_id", "=", cron.id)]),
            triggers + 1,
            "the activation wakes the cron",
        )

        self.assertEqual(self.Tenant._send_welcome_mails(), 1)
        mail = self.mails_to(tenant.admin_email)
        self.assertEqual(len(mail), 1)
        self.assertIn(LINK, mail.body_html)
        self.assertEqual((mail.model, mail.res_id), (False, 0), "bound to no record")
        self.assertTrue(mail.auto_delete)
        self.assertFalse(stored.exists(), "the link is not kept once mailed")
        bodies = tenant.message_ids.mapped("body")
        self.assertTrue(
            any("Welcome mail queued for ann@welcome-cron.example" in b for b in bodies)
        )
        self.assertFalse(any("reset_password" in b for b in bodies))

        # Woken again (another activation, the interval): nothing twice.
        self.assertEqual(self.Tenant._send_welcome_mails(), 0)
        self.assertEqual(len(self.mails_to(tenant.admin_email)), 1)

    def test_a_mail_that_cannot_be_made_holds_up_no_other(self):
        broken = self.make_tenant("welcome-broken", admin_email="bob@welcome-broken.example")
        broken._queue_welcome_mail(LINK)
        self.link_of(broken).token = "not-a-token-of-this-key"
        fine = self.make_tenant("welcome-fine", admin_email="cy@welcome-fine.example")
        fine._queue_welcome_mail(LINK)
        with mute_logger("odoo.addons.ipai_tenant_core.models.ipai_tenant"):
            self.assertEqual(self.Tenant._send_welcome_mails(), 1)
        self.assertEqual(len(self.mails_to(fine.admin_email)), 1)
        self.assertFalse(self.mails_to(broken.admin_email))
        self.assertTrue(self.link_of(broken), "kept for a later run")

    def test_a_tenant_removed_before_its_mail_gets_none(self):
        gone = self.make_tenant("welcome-gone", admin_email="dee@welcome-gone.example")
        gone._queue_welcome_mail(LINK)
        gone._forget_secrets()  # what a failed job's clean-up and a drop do
        self.assertEqual(self.Tenant._send_welcome_mails(), 0)
        self.assertFalse(self.mails_to(gone.admin_email))
