from decimal import Decimal

from odoo import api, fields, models

from ..billing import kpis, periods


class IpaiBillingKpi(models.Model):
    """What each tenant contributes to each month's KPIs (billing/kpis.py),
    rebuilt from the tenants' histories: graph and pivot views sum these
    rows by month, plan and provider; the dashboard computes the ratios."""

    _name = "ipai.billing.kpi"
    _description = "SaaS KPI facts per tenant and month"
    _order = "month desc, tenant_id"

    month = fields.Date(required=True, index=True, help="First day of the month.")
    tenant_id = fields.Many2one("ipai.tenant", required=True, ondelete="cascade", index=True)
    plan_id = fields.Many2one("ipai.tenant.plan", ondelete="cascade")
    provider_id = fields.Many2one("ipai.tenant", ondelete="set null")
    currency_id = fields.Many2one(related="plan_id.currency_id")
    mrr = fields.Monetary(string="MRR", currency_field="currency_id")
    arr = fields.Monetary(string="ARR", currency_field="currency_id")
    # Plans may be priced in different currencies: sums (graph, pivot) are
    # made of these, converted at the month's rate.
    company_currency_id = fields.Many2one("res.currency", string="Company currency")
    mrr_company = fields.Monetary(
        string="MRR (company currency)", currency_field="company_currency_id"
    )
    arr_company = fields.Monetary(
        string="ARR (company currency)", currency_field="company_currency_id"
    )
    # Not "active": that name would make Odoo hide the rows that are 0.
    tenants_active = fields.Integer(string="Active tenants")
    tenants_active_at_start = fields.Integer(string="Active at month start")
    tenants_paying = fields.Integer(string="Paying tenants")
    tenants_new = fields.Integer(string="New tenants")
    tenants_churned = fields.Integer(string="Churned tenants")
    trials_converted = fields.Integer(string="Trials converted")
    trials_expired = fields.Integer(string="Trials expired")

    _sql_constraints = [
        ("tenant_month_unique", "unique(tenant_id, month)", "One KPI row per tenant and month.")
    ]

    @api.model
    def _history(self, tenant):
        changes = tenant._plan_history()
        converted = next(
            (day for day, old, new in changes if old._is_trial() and not new._is_trial()), None
        )
        expired = tenant.suspension_ids.filtered(lambda s: s.reason == "trial_expired")
        return kpis.TenantHistory(
            tenant=tenant,
            current_plan=tenant.plan_id,
            billing_period=tenant.billing_period,
            start=tenant.subscription_start,
            end=tenant.subscription_end,
            changes=changes,
            trial_converted=converted,
            trial_expired=min(expired.mapped("date_start")) if expired else None,
        )

    @api.model
    def _refresh(self, first_month=None, last_month=None):
        """Rebuild the rows of ``first_month``..``last_month`` (default: from
        the first subscription to this month)."""
        tenants = self.env["ipai.tenant"].sudo().search([("subscription_start", "!=", False)])
        if not tenants:
            return 0
        first = periods.month_start(first_month or min(tenants.mapped("subscription_start")))
        last = periods.month_start(last_month or fields.Date.context_today(self))
        histories = [self._history(tenant) for tenant in tenants]
        prices = {
            plan: (plan.price_monthly, plan.price_annual)
            for plan in self.env["ipai.tenant.plan"]
            .sudo()
            .with_context(active_test=False)
            .search([])
        }
        rows = []
        month = first
        while month <= last:
            for history in histories:
                fact = kpis.month_fact(history, month, prices)
                if not any(
                    (
                        fact.active,
                        fact.active_at_start,
                        fact.new,
                        fact.churned,
                        fact.trial_converted,
                        fact.trial_expired,
                    )
                ):
                    continue
                rows.append(self._row_values(history.tenant, fact))
            month = periods.add_months(month, 1)
        facts = self.sudo()
        facts.search([("month", ">=", first), ("month", "<=", last)]).unlink()
        facts.create(rows)
        return len(rows)

    @api.model
    def _row_values(self, tenant, fact):
        company = self.env.company
        mrr_company = fact.plan.currency_id._convert(
            float(fact.mrr), company.currency_id, company, fact.month, round=False
        )
        return {
            "month": fact.month,
            "company_currency_id": company.currency_id.id,
            "mrr_company": mrr_company,
            "arr_company": mrr_company * 12,
            "tenant_id": tenant.id,
            "plan_id": fact.plan.id,
            "provider_id": tenant.parent_id.id,
            "mrr": float(fact.mrr),
            "arr": float(fact.mrr * 12),
            "tenants_active": int(fact.active),
            "tenants_active_at_start": int(fact.active_at_start),
            "tenants_paying": int(fact.paying),
            "tenants_new": int(fact.new),
            "tenants_churned": int(fact.churned),
            "trials_converted": int(fact.trial_converted),
            "trials_expired": int(fact.trial_expired),
        }

    def _summary(self, currency):
        """The KPIs of these rows (billing/kpis.summarize), amounts in
        ``currency`` at each month's rate."""
        company = self.env.company
        return kpis.summarize(
            [
                kpis.MonthFact(
                    tenant=row.tenant_id,
                    plan=row.plan_id,
                    month=row.month,
                    active=bool(row.tenants_active),
                    active_at_start=bool(row.tenants_active_at_start),
                    paying=bool(row.tenants_paying),
                    new=bool(row.tenants_new),
                    churned=bool(row.tenants_churned),
                    trial_converted=bool(row.trials_converted),
                    trial_expired=bool(row.trials_expired),
                    mrr=Decimal(
                        str(row.currency_id._convert(row.mrr, currency, company, row.month))
                    ),
                )
                for row in self
            ]
        )

    @api.model
    def _cron_refresh(self):
        return self._refresh()
