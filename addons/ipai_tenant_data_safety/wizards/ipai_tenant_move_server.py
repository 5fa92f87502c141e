from odoo import api, fields, models

from ..models.ipai_tenant_job import DEFAULT_MOVE_GRACE_HOURS, MOVE_GRACE_PARAM


class IpaiTenantMoveServer(models.TransientModel):
    """The form's way to ``ipai.tenant.action_move_to_server``: it shows the
    estimate before the manager confirms, and nothing else."""

    _name = "ipai.tenant.move.server"
    _description = "Move a tenant to another database server"

    tenant_id = fields.Many2one("ipai.tenant", required=True, readonly=True)
    server_id = fields.Many2one(
        "ipai.tenant.server", string="Target server", required=True, domain=[("active", "=", True)]
    )
    grace_hours = fields.Float(
        string="Keep the old database (hours)",
        default=lambda self: float(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param(MOVE_GRACE_PARAM, DEFAULT_MOVE_GRACE_HOURS)
        ),
        help="The old database stays, closed to the tenant, this long; 0 drops it at once.",
    )
    estimate = fields.Text(compute="_compute_estimate")

    @api.depends("tenant_id", "server_id")
    def _compute_estimate(self):
        for wizard in self:
            tenant, server = wizard.tenant_id.sudo(), wizard.server_id
            if not (tenant and server):
                wizard.estimate = False
                continue
            wizard.estimate = tenant._move_problem(server) or tenant._move_estimate(server)

    def action_apply(self):
        self.ensure_one()
        self.tenant_id.action_move_to_server(self.server_id, grace_hours=self.grace_hours)
        return {"type": "ir.actions.act_window_close"}
