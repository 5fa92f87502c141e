from odoo import api, fields, models

from ..billing import periods


class IpaiBillingDashboard(models.TransientModel):
    """The KPI dashboard: one month's figures, optionally for one plan or
    one provider, from the KPI rows the user may read (providers see their
    own subtree only, through the rows' record rules)."""

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

    def _rows(self):
        self.ensure_one()
        domain = [("month", "=", periods.month_start(self.month))]
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
