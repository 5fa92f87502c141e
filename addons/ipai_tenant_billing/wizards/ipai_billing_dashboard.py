from markupsafe import Markup, escape
from odoo import api, fields, models
from odoo.tools.misc import format_amount, format_date

from ..billing import periods

TREND_MONTHS = 12


class IpaiBillingDashboard(models.TransientModel):
    """The KPI dashboard: one month's figures and the twelve months before
    it, optionally for one plan or one provider, from the KPI rows the user
    may read (providers see their own subtree only, through the rows'
    record rules). Opened from the menu, the current month's rows are
    rebuilt first: what it shows is never older than the click."""

    _name = "ipai.billing.dashboard"
    _description = "SaaS KPI dashboard"

    month = fields.Date(
        required=True, default=lambda self: periods.month_start(fields.Date.context_today(self))
    )
    plan_id = fields.Many2one("ipai.tenant.plan")
    provider_id = fields.Many2one(
        "ipai.tenant", domain=[("tenant_type", "in", ("provider", "platform_owner"))]
    )
    currency_id = fields.Many2one(
        "res.currency",
        required=True,
        default=lambda self: self.env.company.currency_id,
        help="Plans priced in other currencies are converted at the month's rate.",
    )
    mrr = fields.Monetary(string="MRR", compute="_compute_kpis", currency_field="currency_id")
    arr = fields.Monetary(string="ARR", compute="_compute_kpis", currency_field="currency_id")
    arpu = fields.Monetary(string="ARPU", compute="_compute_kpis", currency_field="currency_id")
    tenants_active = fields.Integer(string="Active tenants", compute="_compute_kpis")
    tenants_paying = fields.Integer(string="Paying tenants", compute="_compute_kpis")
    tenants_new = fields.Integer(string="New tenants", compute="_compute_kpis")
    tenants_churned = fields.Integer(string="Churned tenants", compute="_compute_kpis")
    churn_rate = fields.Float(string="Churn rate (%)", compute="_compute_kpis", digits=(16, 2))
    trial_conversion_rate = fields.Float(
        string="Trial conversion (%)", compute="_compute_kpis", digits=(16, 2)
    )

    trend = fields.Html(
        string="Last 12 months", compute="_compute_trend", sanitize=False, readonly=True
    )

    @api.depends("month")
    def _compute_display_name(self):
        for dashboard in self:
            month = format_date(self.env, dashboard.month, date_format="MMMM y")
            dashboard.display_name = self.env._("SaaS KPIs, %s", month)

    @api.model
    def action_open(self):
        """The menu's entry: this month's KPI rows rebuilt from the tenants'
        histories (derived data only; the same as the nightly cron does for
        every month), then this month's dashboard."""
        today = periods.month_start(fields.Date.context_today(self))
        self.env["ipai.billing.kpi"]._refresh(first_month=today, last_month=today)
        dashboard = self.create({"month": today})
        return {
            "type": "ir.actions.act_window",
            "name": dashboard.display_name,
            "res_model": self._name,
            "res_id": dashboard.id,
            "view_mode": "form",
            "target": "current",
        }

    def _rows(self, month=None):
        self.ensure_one()
        domain = [("month", "=", periods.month_start(month or self.month))]
        if self.plan_id:
            domain.append(("plan_id", "=", self.plan_id.id))
        if self.provider_id:
            domain.append(("tenant_id", "child_of", self.provider_id.id))
        return self.env["ipai.billing.kpi"].search(domain)

    @api.depends("month", "plan_id", "provider_id", "currency_id")
    def _compute_kpis(self):
        for dashboard in self:
            kpi = (
                dashboard._rows()._summary(dashboard.currency_id)
                if dashboard.month and dashboard.currency_id
                else None
            )
            dashboard.mrr = float(kpi["mrr"]) if kpi else 0
            dashboard.arr = float(kpi["arr"]) if kpi else 0
            dashboard.arpu = float(kpi["arpu"]) if kpi else 0
            dashboard.tenants_active = kpi["active"] if kpi else 0
            dashboard.tenants_paying = kpi["paying"] if kpi else 0
            dashboard.tenants_new = kpi["new"] if kpi else 0
            dashboard.tenants_churned = kpi["churned"] if kpi else 0
            dashboard.churn_rate = float(kpi["churn_rate"]) * 100 if kpi else 0
            dashboard.trial_conversion_rate = (
                float(kpi["trial_conversion_rate"]) * 100 if kpi else 0
            )

    @api.depends("month", "plan_id", "provider_id", "currency_id")
    def _compute_trend(self):
        for dashboard in self:
            if not (dashboard.month and dashboard.currency_id):
                dashboard.trend = False
                continue
            last = periods.month_start(dashboard.month)
            months = [periods.add_months(last, -back) for back in range(TREND_MONTHS - 1, -1, -1)]
            dashboard.trend = dashboard._trend_table(
                [
                    (month, dashboard._rows(month)._summary(dashboard.currency_id))
                    for month in months
                ]
            )

    def _trend_table(self, summaries):
        headers = (
            self.env._("Month"),
            self.env._("MRR"),
            self.env._("Active"),
            self.env._("Paying"),
            self.env._("New"),
            self.env._("Churned"),
        )
        head = Markup("").join(Markup("<th>%s</th>") % header for header in headers)
        body = Markup("").join(
            Markup("<tr><td>%s</td><td class='text-end'>%s</td>%s</tr>")
            % (
                format_date(self.env, month, date_format="MMM y"),
                format_amount(self.env, float(kpi["mrr"]), self.currency_id),
                Markup("").join(
                    Markup("<td class='text-end'>%s</td>") % escape(kpi[key])
                    for key in ("active", "paying", "new", "churned")
                ),
            )
            for month, kpi in summaries
        )
        return Markup(
            "<table class='table table-sm o_ipai_kpi_trend'><thead><tr>%s</tr></thead>"
            "<tbody>%s</tbody></table>"
        ) % (head, body)

    def action_refresh(self):
        """Rebuild the KPI rows from the tenants' histories (platform managers)."""
        self.env["ipai.tenant.plan"].check_access("write")
        self.env["ipai.billing.kpi"]._refresh()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "current",
        }

    def action_open_analysis(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "ipai_tenant_billing.action_ipai_billing_kpi"
        )
        return action
