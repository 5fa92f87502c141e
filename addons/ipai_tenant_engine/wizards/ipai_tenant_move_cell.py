from odoo import fields, models


class IpaiTenantMoveCell(models.TransientModel):
    """The form's way to ``ipai.tenant.action_move_to_cell``: nothing else."""

    _name = "ipai.tenant.move.cell"
    _description = "Move a tenant to another cell"

    tenant_id = fields.Many2one("ipai.tenant", required=True, readonly=True)
    cell_id = fields.Many2one(
        "ipai.tenant.cell", string="Target cell", required=True, ondelete="cascade"
    )

    def action_apply(self):
        self.ensure_one()
        self.tenant_id.action_move_to_cell(self.cell_id)
        return {"type": "ir.actions.act_window_close"}
