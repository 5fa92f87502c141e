from odoo import models

# How long the welcome mail's set-password link works (Odoo's own reset
# links last 4 hours; a welcome mail may wait in an inbox over a weekend).
WELCOME_LINK_HOURS = 72


class IpaiTenant(models.Model):
    _inherit = "ipai.tenant"

    def _queue_welcome_mail(self, reset_url):
        """Queue the welcome mail in Odoo's mail queue, in the transaction
        that makes the tenant active (sent by the mail cron afterwards, so
        a tenant is never active without its mail, nor mailed twice)."""
        self.ensure_one()
        template = self.env.ref("ipai_tenant_core.mail_template_tenant_welcome")
        template.with_context(
            reset_url=reset_url, reset_valid_hours=WELCOME_LINK_HOURS
        ).send_mail(self.id)
