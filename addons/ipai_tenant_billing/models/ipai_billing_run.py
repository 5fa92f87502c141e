from collections import defaultdict
from datetime import timedelta

from odoo import api, fields, models
from odoo.addons.ipai_platform_rules import lifecycle
from odoo.exceptions import UserError

from ..billing import periods
from .ipai_tenant import BILLING_DATE_KEY

BILLED_STATES = (lifecycle.ACTIVE, lifecycle.SUSPENDED)


class IpaiBillingRun(models.Model):
    """One run of the monthly billing: at most one per month, so a rerun
    creates nothing. Each run makes one posted invoice per billing partner
    (and currency): subscriptions in advance up to the end of the tenant's
    current period, settlements of plan changes, last month's overage."""

    _name = "ipai.billing.run"
    _description = "Billing run"
    _order = "month desc"
    _rec_name = "month"

    month = fields.Char(required=True, readonly=True, help="YYYY-MM")
    date = fields.Date(required=True, readonly=True, help="Invoice date of the run.")
    move_ids = fields.One2many("account.move", "ipai_billing_run_id", string="Invoices")
    move_count = fields.Integer(compute="_compute_totals")
    amount_total = fields.Float(compute="_compute_totals")

    _sql_constraints = [
        ("month_unique", "unique(month)", "This month was already billed."),
    ]

    @api.depends("move_ids.amount_total_signed")
    def _compute_totals(self):
        for run in self:
            run.move_count = len(run.move_ids)
            run.amount_total = sum(run.move_ids.mapped("amount_total_signed"))

    # ------------------------------------------------------------------ entry

    @api.model
    def _date_problem(self, day):
        """Why ``day`` cannot be billed now, or None."""
        today = self.env["ipai.tenant"]._billing_today()
        if periods.month_start(day) > periods.month_start(today):
            return self.env._(
                "%(day)s is in a future period; the latest period that can be billed is %(month)s.",
                day=day,
                month=periods.month_key(today),
            )
        month = periods.month_key(day)
        done = self.search([("month", "=", month)], limit=1)
        if done:
            return self.env._(
                "The period %(month)s was already billed on %(date)s (%(count)s invoices); "
                "nothing new was made.",
                month=month,
                date=done.date,
                count=done.move_count,
            )
        return None

    @api.model
    def _bill(self, day=None):
        """Bill the month of ``day`` (default today); raises UserError with
        nothing changed when it cannot."""
        self.env["ipai.tenant.plan"].check_access("write")  # platform managers
        day = fields.Date.to_date(day) if day else fields.Date.context_today(self)
        problem = self._date_problem(day)
        if problem:
            raise UserError(problem)
        run = self.sudo().create({"month": periods.month_key(day), "date": day})
        run._make_invoices()
        return run.with_env(self.env)

    @api.model
    def _cron_bill_tenants(self):
        """Monthly: bill the current month unless it already was."""
        today = fields.Date.context_today(self)
        if self.search_count([("month", "=", periods.month_key(today))]):
            return False
        self._bill(today)
        return True

    # -------------------------------------------------------------- invoices

    def _make_invoices(self):
        self.ensure_one()
        Tenant = self.env["ipai.tenant"].sudo().with_context(**{BILLING_DATE_KEY: self.date})
        tenants = Tenant.search(
            [
                ("state", "in", BILLED_STATES),
                ("subscription_start", "!=", False),
                ("subscription_start", "<=", self.date),
            ],
            order="code",
        )
        grouped = defaultdict(list)
        for tenant in tenants:
            for line in self._tenant_lines(tenant):
                grouped[(tenant._billing_partner(), line.pop("currency"))].append(line)
        for (partner, currency), lines in sorted(grouped.items(), key=lambda i: i[0][0].name):
            self._post_invoice(partner, currency, lines)

    def _post_invoice(self, partner, currency, lines):
        total = sum(line["quantity"] * line["price_unit"] for line in lines)
        if currency.is_zero(total) and not any(line["price_unit"] for line in lines):
            return self.env["account.move"]
        # A period of credits only (a downgrade) is a credit note.
        move_type = "out_invoice" if total >= 0 else "out_refund"
        sign = 1 if total >= 0 else -1
        move = (
            self.env["account.move"]
            .sudo()
            .create(
                {
                    "move_type": move_type,
                    "partner_id": partner.id,
                    "invoice_date": self.date,
                    # Payable on receipt unless the partner has payment
                    # terms; the dunning delays count from this date.
                    "invoice_date_due": self.date,
                    "currency_id": currency.id,
                    "ipai_billing_run_id": self.id,
                    "ipai_billing_month": self.month,
                    "invoice_line_ids": [
                        fields.Command.create(
                            {**line, "price_unit": sign * line["price_unit"], "tax_ids": []}
                        )
                        for line in lines
                    ],
                }
            )
        )
        move.action_post()
        return move

    def _tenant_lines(self, tenant):
        """Invoice line values for one tenant; moves its billing marks on."""
        lines = self._settlement_lines(tenant)
        lines += self._subscription_lines(tenant)
        lines += self._overage_lines(tenant)
        return lines

    def _line(self, tenant, plan, name, amount, quantity=1):
        return {
            "ipai_tenant_id": tenant.id,
            "name": f"{tenant.code} · {name}",
            "quantity": quantity,
            "price_unit": float(amount),
            "currency": plan.currency_id,
        }

    def _span(self, first, last):
        return f"{first} to {last}"

    def _settlement_lines(self, tenant):
        lines = []
        kind, anchor = tenant.billing_period, tenant.subscription_start
        for change in tenant.plan_change_ids.filtered(lambda c: not c.settled):
            if change.date > self.date:
                continue
            old, new = change.old_plan_id, change.new_plan_id
            for sign, _pf, _pl, first, last, amount in periods.plan_change_settlement(
                kind,
                anchor,
                change.date,
                change.billed_until,
                old._price_for(kind),
                new._price_for(kind),
            ):
                if not amount:
                    continue
                plan = old if sign < 0 else new
                label = (
                    self.env._("credit for unused %s", plan.name)
                    if sign < 0
                    else self.env._("%s, rest of the period", plan.name)
                )
                lines.append(
                    self._line(tenant, plan, f"{label} {self._span(first, last)}", sign * amount)
                )
            change.settled = True
        return lines

    def _subscription_lines(self, tenant):
        kind, anchor = tenant.billing_period, tenant.subscription_start
        first = (
            tenant.billed_until + timedelta(days=1)
            if tenant.billed_until
            else tenant.subscription_start
        )
        last = periods.period_bounds(kind, anchor, self.date)[1]
        if first > last:
            return []
        lines = []
        history = tenant._plan_history()
        for plan, segment_first, segment_last in periods.plan_segments(
            history, tenant.plan_id, first, last
        ):
            for period_first, period_last, piece_first, piece_last in periods.split_by_period(
                kind, anchor, segment_first, segment_last
            ):
                amount = periods.prorate(
                    plan._price_for(kind), period_first, period_last, piece_first, piece_last
                )
                if amount:
                    name = f"{plan.name} {self._span(piece_first, piece_last)}"
                    lines.append(self._line(tenant, plan, name, amount))
        tenant.billed_until = last
        return lines

    def _overage_lines(self, tenant):
        """Last month's usage over the plan's limits, priced on the plan."""
        month_first = periods.add_months(self.date, -1)
        month_last = periods.month_end(month_first)
        key = periods.month_key(month_first)
        if (tenant.overage_billed_month or "") >= key or tenant.subscription_start > month_last:
            return []
        tenant.overage_billed_month = key
        metrics = (
            self.env["ipai.tenant.metric"]
            .sudo()
            .search(
                [
                    ("tenant_id", "=", tenant.id),
                    ("date", ">=", month_first),
                    ("date", "<=", month_last),
                ]
            )
        )
        if not metrics:
            return []
        plan = periods.plan_segments(tenant._plan_history(), tenant.plan_id, month_last, month_last)
        plan = plan[0][0]
        transactions = max(metrics.mapped("records_month")) - plan.max_transactions_month
        storage_gb = round(max(metrics.mapped("storage_mb")) / 1024 - plan.max_storage_gb, 2)
        # What is over the plan: the excess, the plan's limit, its price per
        # unit over it, how the invoice line reads.
        overages = (
            (
                transactions,
                plan.max_transactions_month,
                plan.price_transaction_overage,
                self.env._("%(over)s transactions over the %(limit)s of %(plan)s in %(month)s"),
            ),
            (
                storage_gb,
                plan.max_storage_gb,
                plan.price_storage_overage,
                self.env._("%(over)s GB of storage over the %(limit)g GB of %(plan)s in %(month)s"),
            ),
        )
        return [
            self._line(
                tenant,
                plan,
                text % {"over": over, "limit": limit, "plan": plan.name, "month": key},
                price,
                over,
            )
            for over, limit, price, text in overages
            if over > 0 and price
        ]

    def _summary(self):
        """What the run invoiced, one line per invoice (the command prints it)."""
        self.ensure_one()
        lines = [f"period {self.month}: {len(self.move_ids)} invoice(s)"]
        for move in self.move_ids.sorted("id"):
            lines.append(
                f"  {move.name}  {move.partner_id.name}  "
                f"{move.amount_total:.2f} {move.currency_id.name}"
            )
            for line in move.invoice_line_ids:
                lines.append(f"    {line.name}  {line.quantity:g} x {line.price_unit:.2f}")
        return "\n".join(lines)
