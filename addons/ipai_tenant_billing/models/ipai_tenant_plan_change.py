from odoo import fields, models


class IpaiTenantPlanChange(models.Model):
    """One plan change of a tenant: the plan history proration and the KPIs
    read. ``billed_until`` is how far the tenant was billed in advance when
    the plan changed, so the settlement (credit of the old plan, charge of
    the new one for those days) does not depend on when the next run is."""

    _name = "ipai.tenant.plan.change"
    _description = "Tenant plan change"
    _order = "date, id"

    tenant_id = fields.Many2one("ipai.tenant", required=True, ondelete="cascade", index=True)
    date = fields.Date(required=True, help="The new plan applies from this day on.")
    old_plan_id = fields.Many2one("ipai.tenant.plan", required=True, ondelete="restrict")
    new_plan_id = fields.Many2one("ipai.tenant.plan", required=True, ondelete="restrict")
    billed_until = fields.Date(readonly=True)
    settled = fields.Boolean(readonly=True, index=True, help="Invoiced by a billing run.")
