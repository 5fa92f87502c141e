import dataclasses

from odoo import api, fields, models
from odoo.addons.ipai_platform_rules import lifecycle
from odoo.exceptions import UserError, ValidationError
from odoo.tools import config

from ..infra import pg, server_check

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
    _audit_ignored = frozenset(
        {
            "health",
            "health_message",
            "checked_at",
            "server_version",
            "size_mb",
            "database_total",
            "connection_count",
            "max_connections",
            "replica_state",
            "replica_lag",
        }
    )
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
    # Placement (see _placement_key): which new databases may come here.
    open_to_new = fields.Boolean(
        "Open to new tenants",
        default=True,
        help="Closed: tenants already here stay, no new tenant or pool database comes.",
    )
    dedicated_provider_id = fields.Many2one(
        "ipai.tenant",
        string="Dedicated to provider",
        domain="[('tenant_type', 'in', ('provider', 'platform_owner'))]",
        ondelete="restrict",
        groups="ipai_tenant_core.group_platform_user",
        help="Only this provider's tenants (and their sub-tenants) are placed here, and "
        "they are placed here first.",
    )
    dedicated_plan_id = fields.Many2one(
        "ipai.tenant.plan",
        string="Dedicated to plan",
        ondelete="restrict",
        groups="ipai_tenant_core.group_platform_user",
        help="Only tenants of this plan are placed here, and they are placed here first.",
    )
    # Measured by _check_health (the cron, a button, `make add-server`).
    health = fields.Selection(
        [
            ("unknown", "Not checked"),
            (server_check.HEALTHY, "Healthy"),
            (server_check.WARNING, "Healthy, with warnings"),
            (server_check.UNFIT, "Not fit for tenants"),
            (server_check.UNREACHABLE, "Unreachable"),
        ],
        default="unknown",
        readonly=True,
        required=True,
    )
    health_message = fields.Text(readonly=True, groups="ipai_tenant_core.group_platform_user")
    checked_at = fields.Datetime("Last checked", readonly=True)
    server_version = fields.Char("PostgreSQL", readonly=True)
    size_mb = fields.Float("Size on disk (MB)", digits=(16, 1), readonly=True, aggregator="sum")
    database_total = fields.Integer(
        "Databases on the server", readonly=True, help="All of them, the platform's or not."
    )
    connection_count = fields.Integer("Connections", readonly=True)
    max_connections = fields.Integer(readonly=True)
    # A streaming replica of this server (set with _set_replica: checked
    # first). The tenant runtime sends the read-only requests of this
    # server's tenants there, and to the primary while it is down or
    # further behind than replica_max_lag (the runtime measures it itself).
    replica_host = fields.Char(readonly=True)
    replica_port = fields.Integer(readonly=True)
    replica_max_lag = fields.Integer(
        "Replica lag limit (s)",
        default=30,
        help="Read-only requests go to the primary while the replica is further behind.",
    )
    replica_state = fields.Selection(
        [
            (server_check.REPLICA_OK, "Serving reads"),
            (server_check.REPLICA_BEHIND, "Behind: reads on the primary"),
            (server_check.REPLICA_UNREACHABLE, "Unreachable: reads on the primary"),
            (server_check.REPLICA_NOT_STANDBY, "Not a standby: reads on the primary"),
        ],
        readonly=True,
    )
    replica_lag = fields.Float("Replica lag (s)", digits=(16, 1), readonly=True)

    _sql_constraints = [
        ("capacity_positive", "CHECK(capacity > 0)", "A server's capacity must be positive."),
        ("port_range", "CHECK(port > 0 AND port < 65536)", "Port must be between 1 and 65535."),
        (
            "replica_port_range",
            "CHECK(replica_host IS NULL OR replica_port BETWEEN 1 AND 65535)",
            "A replica's port must be between 1 and 65535.",
        ),
        (
            "replica_max_lag_positive",
            "CHECK(replica_max_lag > 0)",
            "A replica's lag limit must be positive.",
        ),
        ("name_unique", "UNIQUE(name)", "A server with this name exists already."),
        (
            "dedicated_once",
            "CHECK(dedicated_provider_id IS NULL OR dedicated_plan_id IS NULL)",
            "A server is dedicated to a provider or to a plan, not both.",
        ),
    ]

    def write(self, vals):
        result = super().write(vals)
        if {"host", "port", "replica_host", "replica_port", "replica_max_lag"} & set(vals):
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
        """Where a new database goes when no tenant says otherwise: the
        shared server the placement policy picks."""
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
        dedicated = servers._dedicated_to(tenant)._default_server_among(tenant)
        if dedicated:
            return dedicated._reserved()  # a dedicated server wins over a default
        if current and current.active and current.capacity > current._database_count():
            return current._reserved()
        chosen = servers._default_server_among(tenant)
        if not chosen:
            loads = ", ".join(server._placement_summary() for server in servers)
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

    def _default_server_among(self, tenant=None):
        """The server of ``self`` a new database (of ``tenant``, or a pool
        member's when None) goes to, by the placement policy:

        1. only servers that are active, open to new tenants, not known to be
           unreachable or unfit, with room left (databases < capacity), and
           dedicated to nobody or to this tenant's provider or plan;
        2. among them, those dedicated to the tenant first;
        3. then the least loaded: databases / capacity plus size on disk /
           the largest candidate's size (both between 0 and 1), so that a
           server full of big tenants counts as fuller than its count says;
        4. then by sequence."""
        candidates = [server for server in self if server._accepts(tenant)]
        if not candidates:
            return self.browse()
        largest = max(server.size_mb for server in candidates) or 1.0
        return min(candidates, key=lambda server: server._placement_key(tenant, largest))

    def _accepts(self, tenant):
        self.ensure_one()
        sudo = self.sudo()
        if not (self.active and self.open_to_new):
            return False
        if self.health in (server_check.UNREACHABLE, server_check.UNFIT):
            return False
        if self.capacity <= self.tenant_count:
            return False
        if not (sudo.dedicated_provider_id or sudo.dedicated_plan_id):
            return True
        return bool(tenant) and self in self._dedicated_to(tenant)

    def _dedicated_to(self, tenant):
        """The servers of ``self`` dedicated to ``tenant``'s plan or to a
        provider above it (or to itself)."""
        tenant = tenant.sudo()
        lineage = tenant | tenant._ancestors()
        return self.sudo().filtered(
            lambda server: (
                (server.dedicated_provider_id and server.dedicated_provider_id in lineage)
                or (server.dedicated_plan_id and server.dedicated_plan_id == tenant.plan_id)
            )
        )

    def _placement_key(self, tenant, largest_size_mb):
        dedicated = bool(tenant) and bool(self._dedicated_to(tenant))
        load = self.tenant_count / self.capacity + self.size_mb / largest_size_mb
        return (not dedicated, load, self.sequence, self.id)

    def _placement_summary(self):
        """One server's figures, as a refusal names them."""
        sudo = self.sudo()
        state = []
        if not self.open_to_new:
            state.append(self.env._("closed"))
        if self.health in (server_check.UNREACHABLE, server_check.UNFIT):
            state.append(dict(self._fields["health"].selection)[self.health])
        if sudo.dedicated_provider_id or sudo.dedicated_plan_id:
            owner = sudo.dedicated_provider_id.code or sudo.dedicated_plan_id.code
            state.append(self.env._("dedicated to %s", owner))
        figures = f"{self.name} {self.tenant_count}/{self.capacity}, {self.size_mb:.0f} MB"
        return f"{figures} ({', '.join(state)})" if state else figures

    # ------------------------------------------------------------ health

    def action_check_health(self):
        self._check_health()
        return True

    @api.model
    def _cron_check_health(self, limit=50):
        self.search([], order="checked_at asc nulls first", limit=limit)._check_health()

    def _check_health(self):
        """Measure each server and record what was found; the placement
        skips servers found unreachable or unfit."""
        for server in self:
            figures = server_check.measure(server._pg_server())
            server.sudo().write(
                {
                    "health": figures.health,
                    "health_message": "\n".join(figures.problems) or False,
                    "checked_at": fields.Datetime.now(),
                    "server_version": figures.version or server.server_version,
                    "size_mb": figures.size_bytes / 1024 / 1024
                    if figures.version_num
                    else server.size_mb,
                    "database_total": figures.databases or server.database_total,
                    "connection_count": figures.connections,
                    "max_connections": figures.max_connections or server.max_connections,
                    **server._measure_replica(),
                }
            )
        return self

    def _measure_replica(self):
        if not self.replica_host:
            return {"replica_state": False, "replica_lag": 0.0}
        figures = server_check.measure_replica(self._replica_pg_server(), self.replica_max_lag)
        return {"replica_state": figures.state, "replica_lag": figures.lag_seconds}

    def _replica_pg_server(self):
        return dataclasses.replace(
            self._pg_server(), host=self.replica_host, port=self.replica_port or None
        )

    def action_remove_replica(self):
        return self._set_replica(False, False)

    def _set_replica(self, host, port, max_lag=None):
        """Name ``host:port`` as this server's streaming replica, once it is
        checked to be a standby the platform's role reaches; an empty
        ``host`` removes the replica. Refused with what was found, and
        nothing recorded, otherwise."""
        self.ensure_one()
        self.check_access("write")
        vals = {
            "replica_host": host or False,
            "replica_port": port if host else False,
            "replica_state": False,
            "replica_lag": 0.0,
        }
        if max_lag is not None:
            vals["replica_max_lag"] = max_lag
        if host:
            if any(c.isspace() for c in host) or not 0 < (port or 0) < 65536:
                raise UserError(self.env._("A replica needs a host name and a port (1-65535)."))
            candidate = dataclasses.replace(self._pg_server(), host=host, port=port)
            figures = server_check.measure_replica(candidate, max_lag or self.replica_max_lag)
            if figures.state in server_check.REPLICA_REFUSED:
                raise UserError(
                    self.env._(
                        "%(host)s:%(port)s was not set as the replica of %(server)s: %(problem)s",
                        host=host,
                        port=port,
                        server=self.name,
                        problem=figures.problem,
                    )
                )
            vals.update(replica_state=figures.state, replica_lag=figures.lag_seconds)
        self.write(vals)
        return True

    @api.model
    def _add_checked(self, name, host, port, capacity=None):
        """A new server, registered only when it is fit: what `make
        add-server` calls after preparing it. A server that is unreachable or
        unfit is refused with what was found, and nothing is recorded."""
        vals = {"name": name, "host": host, "port": port}
        if capacity:
            vals["capacity"] = capacity
        server = self.create(vals)
        server._check_health()
        if server.health != server_check.HEALTHY:
            raise UserError(
                self.env._(
                    "Server %(name)s (%(host)s:%(port)s) was not added: %(problems)s",
                    name=name,
                    host=host,
                    port=port,
                    problems=server.sudo().health_message or server.health,
                )
            )
        return server

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
