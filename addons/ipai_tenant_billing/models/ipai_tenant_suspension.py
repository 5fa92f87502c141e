from odoo import api, fields, models

REASONS = [
    ("trial_expired", "Trial expired"),
    ("unpaid", "Unpaid"),
    ("manual", "Manual"),
]
# Reasons after which a long suspension ends in archiving: an operator's
# own suspension never archives by itself.
AUTOMATIC_REASONS = ("trial_expired", "unpaid")


class IpaiTenantSuspension(models.Model):
    """Why a tenant is suspended: one open record per reason. A tenant stays
    suspended while any is open, so lifting one reason (a payment) leaves
    the others (an operator's suspension) in force."""

    _name = "ipai.tenant.suspension"
    _description = "Tenant suspension reason"
    _order = "date_start desc, id desc"

    tenant_id = fields.Many2one("ipai.tenant", required=True, ondelete="cascade", index=True)
    reason = fields.Selection(REASONS, required=True)
    date_start = fields.Date(required=True)
    date_end = fields.Date(help="When the reason was lifted.")
    is_open = fields.Boolean(compute="_compute_is_open", store=True, index=True)
    move_id = fields.Many2one("account.move", string="Unpaid invoice", ondelete="set null")

    @api.depends("date_end")
    def _compute_is_open(self):
        for suspension in self:
            suspension.is_open = not suspension.date_end
