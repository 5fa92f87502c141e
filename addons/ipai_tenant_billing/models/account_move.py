from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError

from .ipai_tenant import each_safely
from .res_config_settings import REMINDER_DAYS_PARAM, SUSPEND_DAYS_PARAM, setting

DUNNING_STAGES = [("none", "None"), ("reminded", "Reminded"), ("suspended", "Tenants suspended")]
UNPAID = ("not_paid", "partial")
BILLING_MOVE_FIELDS = frozenset({"ipai_billing_run_id", "ipai_billing_month", "ipai_dunning_stage"})


class AccountMove(models.Model):
    # The billing fields take no value from a caller's context defaults:
    # Odoo would fill them after the checks on ``vals`` below.
    _name = "account.move"
    _inherit = ["account.move", "ipai.guarded.defaults.mixin"]

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
        result = super()._invoice_paid_hook()
        self._no_longer_owed()
        return result

    def _guarded_fields(self):
        return super()._guarded_fields() | BILLING_MOVE_FIELDS

    @api.model_create_multi
    def create(self, vals_list):
        self._check_billing_fields(vals_list)
        return super(AccountMove, self._without_guarded_defaults()).create(vals_list)

    def write(self, vals):
        self._check_billing_fields([vals])
        return super().write(vals)

    @api.model
    def _check_billing_fields(self, vals_list):
        """Which run made an invoice and how far its dunning went are the
        platform's: an accountant setting them could stop dunning, or send
        another customer's tenants to suspension."""
        touched = BILLING_MOVE_FIELDS & {name for vals in vals_list for name in vals}
        if touched and not self.env.is_superuser():
            raise AccessError(
                self.env._(
                    "%s can only be set by the platform's billing.",
                    ", ".join(self._fields[name].string for name in sorted(touched)),
                )
            )

    def button_cancel(self):
        result = super().button_cancel()
        self._no_longer_owed()
        return result

    def _no_longer_owed(self):
        """Paid, cancelled, reset to draft or reversed by a credit note:
        nothing is owed on this invoice, so the suspension it caused is
        lifted, whoever did it (an accountant need not manage tenants).
        Dunning starts again from nothing if the invoice is posted again."""
        billed = self.filtered("ipai_billing_run_id").sudo()
        for move in billed:
            move.ipai_tenant_ids._lift_suspension("unpaid", move)
        billed.filtered(lambda m: m.state != "posted").ipai_dunning_stage = "none"


class AccountMoveLine(models.Model):
    _name = "account.move.line"
    _inherit = ["account.move.line", "ipai.guarded.defaults.mixin"]

    ipai_tenant_id = fields.Many2one("ipai.tenant", string="Tenant", index=True, copy=False)

    def _guarded_fields(self):
        return super()._guarded_fields() | {"ipai_tenant_id"}

    @api.model_create_multi
    def create(self, vals_list):
        if any(vals.get("ipai_tenant_id") for vals in vals_list) and not self.env.is_superuser():
            raise AccessError(self.env._("Only the platform's billing bills a tenant."))
        return super(AccountMoveLine, self._without_guarded_defaults()).create(vals_list)

    def write(self, vals):
        if "ipai_tenant_id" in vals and not self.env.is_superuser():
            raise AccessError(self.env._("Only the platform's billing bills a tenant."))
        return super().write(vals)

    def _reconcile_post_hook(self, data):
        # Odoo calls _invoice_paid_hook for paid invoices only; one matched
        # with its credit note ends "reversed", owing nothing either.
        result = super()._reconcile_post_hook(data)
        data["not_paid_invoices"].filtered(
            lambda move: move.payment_state == "reversed"
        )._no_longer_owed()
        return result
