from odoo import fields, models


class IpaiTenantPlan(models.Model):
    _inherit = "ipai.tenant.plan"

    price_transaction_overage = fields.Monetary(
        string="Price per extra transaction",
        currency_field="currency_id",
        help="Charged per transaction over the plan's monthly limit.",
    )
    price_storage_overage = fields.Monetary(
        string="Price per extra GB",
        currency_field="currency_id",
        help="Charged per GB of storage over the plan's limit, per month.",
    )

    _sql_constraints = [
        (
            "overage_prices_positive",
            "CHECK(COALESCE(price_transaction_overage, 0) >= 0 "
            "AND COALESCE(price_storage_overage, 0) >= 0)",
            "Overage prices cannot be negative.",
        ),
    ]

    def _is_trial(self):
        """A trial plan lasts trial days and costs nothing: moving to any
        other plan converts the trial."""
        self.ensure_one()
        return bool(self.trial_days) and not self.price_monthly and not self.price_annual

    def _price_for(self, billing_period):
        self.ensure_one()
        return self.price_annual if billing_period == "annual" else self.price_monthly
