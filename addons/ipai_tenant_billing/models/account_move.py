from datetime import timedelta

from odoo import api, fields, models

from .ipai_tenant import each_safely
from .res_config_settings import REMINDER_DAYS_PARAM, SUSPEND_DAYS_PARAM, setting

DUNNING_STAGES = [("none", "None"), ("reminded", "Reminded"), ("suspended", "Tenants suspended")]
UNPAID = ("not_paid", "partial")


class AccountMove(models.Model):
    _inherit = "account.move"

    ipai_billing_run_id = fields.Many2one(
        "ipai.billing.run", string="Billing run", readonly=True, index=True, copy=False
    )
    ipai_billing_month = fields.Char(string="Billed month", readonly=True, copy=False)
    ipai_tenant_ids = fields.Many2many(
        "ipai.tenant", compute="_compute_ipai_tenant_ids", string="Tenants"
    )
    ipai_dunning_stage = fields.Selection(
        DUNNING_STAGES, string="Dunning", default="none", readonly=True, copy=False
    )

    @api.depends("invoice_line_ids.ipai_tenant_id")
    def _compute_ipai_tenant_ids(self):
        for move in self:
            move.ipai_tenant_ids = move.invoice_line_ids.ipai_tenant_id

    @api.model
    def _cron_dunning(self, limit=500):
        """Unpaid platform invoices: a reminder ``dunning_reminder_days``
        after the due date, then their tenants suspended "unpaid"
        ``dunning_suspend_days`` after it."""
        today = self.env["ipai.tenant"]._billing_today()
        reminder_days = setting(self.env, REMINDER_DAYS_PARAM)
        suspend_days = setting(self.env, SUSPEND_DAYS_PARAM)
        overdue = self.search(
            [
                ("ipai_billing_run_id", "!=", False),
                ("move_type", "=", "out_invoice"),
                ("state", "=", "posted"),
                ("payment_state", "in", UNPAID),
                ("ipai_dunning_stage", "!=", "suspended"),
                ("invoice_date_due", "<=", today - timedelta(days=reminder_days)),
            ],
            limit=limit,
        )
        template = self.env.ref("ipai_tenant_billing.mail_template_payment_reminder")

        def dun(move):
            if move.invoice_date_due + timedelta(days=suspend_days) <= today:
                move.ipai_tenant_ids._suspend_for("unpaid", move)
                move.ipai_dunning_stage = "suspended"
            elif move.ipai_dunning_stage == "none":
                template.send_mail(move.id)
                move.ipai_dunning_stage = "reminded"

        each_safely(overdue, dun, "dunning")
        return len(overdue)

    def _invoice_paid_hook(self):
        """Registering the payment lifts the suspension this invoice caused,
        whoever registers it (an accountant need not manage tenants)."""
        result = super()._invoice_paid_hook()
        for move in self.filtered("ipai_billing_run_id"):
            move.ipai_tenant_ids.sudo()._lift_suspension("unpaid", move)
        return result


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    ipai_tenant_id = fields.Many2one("ipai.tenant", string="Tenant", index=True, copy=False)
