from odoo import fields, models


class IpaiTenantPlan(models.Model):
    _inherit = "ipai.tenant.plan"

    dedicated_cell = fields.Boolean(
        help="Each tenant of this plan gets a cell of its own (its own runtime "
        "nodes, roles and secret; nothing shared with other customers).",
    )
