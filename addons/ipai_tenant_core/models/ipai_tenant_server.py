import dataclasses

from odoo import api, fields, models
from odoo.addons.ipai_platform_rules import lifecycle
from odoo.exceptions import UserError, ValidationError
from odoo.tools import config

from ..infra import pg

# Tenants in these states have a database on their server; a failed tenant
# may or may not (a failed create was cleaned up, a failed suspend was not).
STATES_WITH_DATABASE = (
    lifecycle.PROVISIONING,
    lifecycle.ACTIVE,
    lifecycle.SUSPENDED,
    lifecycle.MAINTENANCE,
)


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
    capacity = fields.Integer(
        default=200,
        help="Maximum number of databases on this server: tenants' (being made, active or "
        "suspended) and ready pool members'. Archived and draft tenants have none.",
    )
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
        for server in self:
            server.tenant_count = server._database_count()
            server.load_percent = 100.0 * server.tenant_count / (server.capacity or 1)

    def _database_count(self):
        """Databases this server holds for the platform: tenants that have
        one, plus pool members (see ``_extra_database_count``)."""
        self.ensure_one()
        tenants = self.env["ipai.tenant"].sudo()
        count = tenants.search_count(
            [("server_id", "=", self.id), ("state", "in", STATES_WITH_DATABASE)]
        )
        failed = tenants.search([("server_id", "=", self.id), ("state", "=", lifecycle.FAILED)])
        if failed:
            existing = self._existing_databases(failed.mapped("database_name"))
            count += len(existing)
        return count + self._extra_database_count()

    def _extra_database_count(self):
        """Databases on this server that belong to no tenant yet (the
        engine's warm pool counts its members here)."""
        return 0

    def _existing_databases(self, names):
        rows = self._pg_server().execute(
            "SELECT datname FROM pg_database WHERE datname = ANY(%s)", [list(names)]
        )
        return {name for (name,) in rows or []}

    @api.model
    def _default_server(self):
        """The active server with the most free room, by sequence on a tie."""
        return self.search([], limit=1000)._default_server_among()

    @api.model
    def _reserve_for(self, tenant):
        """The server a new database of ``tenant`` goes to, chosen (and
        locked against concurrent requests) before anything is made; a
        clear refusal naming each server's load when none has room."""
        servers = self.sudo().search([], limit=1000)
        if servers:
            self.env.cr.execute(
                "SELECT id FROM ipai_tenant_server WHERE id = ANY(%s) FOR UPDATE", [servers.ids]
            )
        current = tenant.server_id.sudo()
        if current and current.active and current.capacity > current._database_count():
            return current._reserved()
        chosen = servers._default_server_among()
        if not chosen:
            loads = ", ".join(
                f"{server.name} {server.tenant_count}/{server.capacity}" for server in servers
            )
            raise UserError(
                self.env._(
                    "No database server has room for tenant %(tenant)s (%(loads)s); "
                    "nothing was created. Add a server or raise a capacity.",
                    tenant=tenant.code,
                    loads=loads or self.env._("no active server"),
                )
            )
        return chosen._reserved()

    def _reserved(self):
        """Written, not only locked: a concurrent request that counted the
        same room then fails to serialise and is retried (Odoo retries a
        request; the CLI says so), instead of both taking the last place."""
        self.env.cr.execute(
            "UPDATE ipai_tenant_server SET write_date = now() at time zone 'UTC' WHERE id = %s",
            [self.id],
        )
        return self

    def _default_server_among(self):
        free = [(s.capacity - s.tenant_count, -s.sequence, -s.id, s) for s in self]
        free = [item for item in free if item[0] > 0]
        return max(free, key=lambda item: item[:3])[3] if free else self.browse()

    def _pg_server(self):
        """Connection settings of this server for the provisioning engine:
        Odoo's own when no host is set, with Odoo's role either way."""
        self.ensure_one()
        own = self._platform_pg_server()
        if not self.host:
            return own
        return dataclasses.replace(own, host=self.host, port=self.port or None)

    @api.model
    def _platform_pg_server(self):
        """The server of the platform database, with Odoo's role."""
        return pg.Server(
            host=config["db_host"] or None,
            port=config["db_port"] or None,
            user=config["db_user"],
            password=config["db_password"] or None,
        )
