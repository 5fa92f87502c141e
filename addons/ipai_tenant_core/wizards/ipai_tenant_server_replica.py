from odoo import fields, models


class IpaiTenantServerReplica(models.TransientModel):
    """The "Set replica" button of a server's form: name a streaming replica
    of the server, checked before it is recorded
    (ipai.tenant.server._set_replica)."""

    _name = "ipai.tenant.server.replica"
    _description = "Name a streaming replica of a database server"
    _inherit = ["ipai.text.input.mixin"]

    server_id = fields.Many2one("ipai.tenant.server", required=True, readonly=True)
    host = fields.Char(required=True)
    port = fields.Integer(required=True, default=5432)
    max_lag = fields.Integer(
        "Lag limit (s)",
        required=True,
        default=30,
        help="Read-only requests go to the primary while the replica is further behind.",
    )

    def action_apply(self):
        self.ensure_one()
        self.server_id._set_replica(self.host, self.port, self.max_lag)
        return {"type": "ir.actions.act_window_close"}
