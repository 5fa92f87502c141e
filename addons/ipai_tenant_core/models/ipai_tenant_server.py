from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import config

from ..provisioning import pg


class IpaiTenantServer(models.Model):
    _name = "ipai.tenant.server"
    _description = "Tenant database server"
    _inherit = ["ipai.text.input.mixin", "ipai.audited.mixin"]
    _audit_label = "server"
    _order = "sequence, id"

    name = fields.Char(required=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    host = fields.Char(
        help="PostgreSQL host. Leave empty to use this Odoo's own database connection."
    )
    port = fields.Integer(default=5432)
    capacity = fields.Integer(default=200, help="Maximum number of tenant databases.")
    tenant_ids = fields.One2many("ipai.tenant", "server_id", string="Tenants")
    tenant_count = fields.Integer(compute="_compute_tenant_count")
    load_percent = fields.Float(compute="_compute_tenant_count", string="Load (%)")

    _sql_constraints = [
        ("capacity_positive", "CHECK(capacity > 0)", "A server's capacity must be positive."),
        ("port_range", "CHECK(port > 0 AND port < 65536)", "Port must be between 1 and 65535."),
    ]

    def write(self, vals):
        result = super().write(vals)
        if {"host", "port"} & set(vals):
            self.env["ipai.tenant"]._bump_routing_version()  # the runtime connects there
        return result

    @api.constrains("host")
    def _check_host(self):
        for server in self:
            if server.host and any(c.isspace() for c in server.host):
                raise ValidationError(self.env._("A server host cannot contain spaces."))

    def _compute_tenant_count(self):
        groups = self.env["ipai.tenant"]._read_group(
            [("server_id", "in", self.ids), ("state", "!=", "archived")],
            groupby=["server_id"],
            aggregates=["__count"],
        )
        counts = {server.id: count for server, count in groups}
        for server in self:
            server.tenant_count = counts.get(server.id, 0)
            server.load_percent = 100.0 * server.tenant_count / (server.capacity or 1)

    @api.model
    def _default_server(self):
        """The active server with the most free room, by sequence on a tie."""
        servers = self.search([], limit=1000)
        free = [(s.capacity - s.tenant_count, -s.sequence, -s.id, s) for s in servers]
        free = [item for item in free if item[0] > 0]
        return max(free, key=lambda item: item[:3])[3] if free else self.browse()

    def _pg_server(self):
        """Connection settings of this server for the provisioning engine:
        Odoo's own when no host is set, with Odoo's role either way."""
        self.ensure_one()
        return pg.Server(
            host=self.host or config["db_host"] or None,
            port=(self.port if self.host else config["db_port"]) or None,
            user=config["db_user"],
            password=config["db_password"] or None,
        )
