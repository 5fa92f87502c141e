from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    # The tenants this partner receives the invoices of: the record rule on
    # contacts lets provider staff read the billing contacts of their own
    # subtree through it, and no one else's.
    ipai_billed_tenant_ids = fields.One2many(
        "ipai.tenant", "partner_id", string="Billed tenants", readonly=True
    )
