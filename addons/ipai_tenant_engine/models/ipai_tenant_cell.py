"""Cells: groups of tenant runtime nodes, each serving its own tenants.

A cell lives in the engine because what makes it real is the engine's: the
PostgreSQL roles its nodes log in with (runtime_access), the routing view
its nodes read (ipai_tenant_routing.py) and the jobs that place and move
tenants. Every tenant belongs to exactly one cell. A cell's nodes hold the
cell's secret, derived from the control plane's master and the cell's code
(ipai_tenant_runtime/credentials.py), never the master.

Placement (``_place_new_tenants``), in order: a platform manager's choice;
a plan with ``dedicated_cell``: a new cell for that tenant alone; else the
open shared cell with the fewest tenants under its capacity; none: refused.
"""

from odoo import api, fields, models
from odoo.addons.ipai_platform_rules import cells, lifecycle, naming
from odoo.addons.ipai_tenant_core.infra import pg
from odoo.exceptions import UserError, ValidationError

from ..provisioning import runtime_access

# Tenants that no longer count against a cell's capacity.
GONE_STATES = (lifecycle.ARCHIVED,)
DEFAULT_CAPACITY = 500


class IpaiTenantCell(models.Model):
    _name = "ipai.tenant.cell"
    _description = "Tenant runtime cell"
    _order = "code"

    code = fields.Char(required=True, help=cells.CODE_RULE)
    name = fields.Char(required=True)
    dedicated_tenant_id = fields.Many2one(
        "ipai.tenant",
        string="Dedicated to",
        ondelete="restrict",
        readonly=True,
        help="The one tenant this cell serves (nothing shared with other customers); "
        "empty: a shared cell.",
    )
    open_for_tenants = fields.Boolean(
        "Open for new tenants",
        default=True,
        help="Placement puts new tenants into open shared cells only.",
    )
    capacity = fields.Integer(default=DEFAULT_CAPACITY, required=True)
    node_addresses = fields.Text(
        help="The addresses (host:port, one a line) of the cell's tenant runtime "
        "nodes, where the proxy sends the cell's tenants."
    )
    tenant_ids = fields.One2many("ipai.tenant", "cell_id", string="Tenants")
    tenant_count = fields.Integer(compute="_compute_tenant_count")
    routing_role = fields.Char(compute="_compute_names", store=True)
    session_store = fields.Char(compute="_compute_names", store=True)

    _sql_constraints = [
        ("code_unique", "UNIQUE (code)", "Another cell has this code."),
        ("code_pattern", "CHECK (code ~ '^[a-z][a-z0-9]{0,15}$')", cells.CODE_RULE),
        ("capacity_positive", "CHECK (capacity > 0)", "A cell's capacity is at least 1."),
        (
            "one_cell_per_dedicated_tenant",
            "UNIQUE (dedicated_tenant_id)",
            "This tenant already has a dedicated cell.",
        ),
        (
            "dedicated_is_closed",
            "CHECK (dedicated_tenant_id IS NULL OR NOT open_for_tenants)",
            "A dedicated cell takes no other tenant.",
        ),
    ]

    @api.depends("code")
    def _compute_names(self):
        for cell in self:
            cell.routing_role = runtime_access.routing_role(cell.code) if cell.code else False
            cell.session_store = runtime_access.session_store(cell.code) if cell.code else False

    def _compute_tenant_count(self):
        counts = dict(
            self.env["ipai.tenant"]
            .sudo()
            ._read_group(
                [("cell_id", "in", self.ids), ("state", "not in", GONE_STATES)],
                ["cell_id"],
                ["__count"],
            )
        )
        for cell in self:
            cell.tenant_count = counts.get(cell, 0)

    @api.constrains("code")
    def _check_code(self):
        for cell in self:
            problem = cells.code_problem(cell.code)
            if problem:
                raise ValidationError(problem)

    @api.model_create_multi
    def create(self, vals_list):
        new_cells = super().create(vals_list)
        # The cell's routing role and session store exist before any node
        # of it can be started (each derived from the cell's secret).
        server = self.env["ipai.tenant.server"].sudo()._platform_pg_server()
        for cell in new_cells:
            runtime_access.grant_cell_routing_access(self.env.cr, cell.code)
            runtime_access.ensure_session_store(server, cell.code)
        return new_cells

    def write(self, vals):
        if "code" in vals and any(cell.code != vals["code"] for cell in self):
            raise UserError(
                self.env._("A cell's code names its roles and secret: it never changes.")
            )
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_default_or_used(self):
        for cell in self:
            if cell.code == cells.DEFAULT_CELL:
                raise UserError(self.env._("The default cell cannot be deleted."))
            if (
                self.env["ipai.tenant"]
                .sudo()
                .with_context(active_test=False)
                .search_count([("cell_id", "=", cell.id)], limit=1)
            ):
                raise UserError(self.env._("Cell %s still has tenants.", cell.code))

    def action_view_tenants(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Tenants of %s", self.name),
            "res_model": "ipai.tenant",
            "view_mode": "list,form",
            "domain": [("cell_id", "=", self.id)],
        }

    @api.model
    def _place_unplaced(self, rekey=False):
        """Tenants and warm-pool members without a cell go to the default
        cell (at install, and by the upgrade that brought cells). With
        ``rekey``, their roles get the default cell's passwords: before
        cells they were derived from the master itself."""
        default = self._default_cell()
        tenants = (
            self.env["ipai.tenant"]
            .sudo()
            .with_context(active_test=False)
            .search([("cell_id", "=", False)])
        )
        members = self.env["ipai.tenant.pool.member"].sudo().search([("cell_id", "=", False)])
        # Plain SQL: the move is the platform's own, not a tenant's write.
        if tenants:
            self.env.cr.execute(
                "UPDATE ipai_tenant SET cell_id = %s WHERE id IN %s",
                [default.id, tuple(tenants.ids)],
            )
        if members:
            self.env.cr.execute(
                "UPDATE ipai_tenant_pool_member SET cell_id = %s WHERE id IN %s",
                [default.id, tuple(members.ids)],
            )
        self.env["ipai.tenant"].invalidate_model(["cell_id"])
        self.env["ipai.tenant.pool.member"].invalidate_model(["cell_id"])
        if rekey:
            for tenant in tenants.filtered(lambda t: t.runtime_role and t.state != "archived"):
                server = tenant._pg_server()
                if pg.role_exists(server, tenant.runtime_role):
                    runtime_access.ensure_owned_role(server, tenant.runtime_role, default.code)
            for member in members:
                server = member.server_id._pg_server()
                if pg.role_exists(server, member.role_name):
                    runtime_access.ensure_owned_role(server, member.role_name, default.code)
            _database_prefix, role_prefix = self.env["ipai.tenant"]._name_prefixes()
            owner = naming.template_owner_role(role_prefix)
            servers = self.env["ipai.tenant.server"].sudo().search([("id", "!=", False)])
            for server in servers:
                if pg.role_exists(server._pg_server(), owner):
                    runtime_access.ensure_owned_role(server._pg_server(), owner, default.code)
        return len(tenants), len(members)

    # ------------------------------------------------------------- placement

    @api.model
    def _default_cell(self):
        return self.sudo().search([("code", "=", cells.DEFAULT_CELL)], limit=1)

    @api.model
    def _shared_cell_with_room(self):
        """The open shared cell with the fewest tenants under its capacity."""
        candidates = self.sudo().search(
            [("open_for_tenants", "=", True), ("dedicated_tenant_id", "=", False)]
        )
        with_room = [cell for cell in candidates if cell.tenant_count < cell.capacity]
        if not with_room:
            raise UserError(
                self.env._(
                    "No open shared cell has room for a new tenant: open a cell, raise a "
                    "cell's capacity or add one (Tenants > Configuration > Cells)."
                )
            )
        return min(with_room, key=lambda cell: (cell.tenant_count, cell.id))

    @api.model
    def _dedicated_cell_for(self, tenant):
        """A new cell for ``tenant`` alone (or the one it already has)."""
        existing = self.sudo().search([("dedicated_tenant_id", "=", tenant.id)], limit=1)
        if existing:
            return existing
        code = cells.dedicated_code(tenant.code)
        if self.sudo().search_count([("code", "=", code)], limit=1):
            raise UserError(
                self.env._(
                    "A cell named %s exists already: choose the tenant's cell by hand.", code
                )
            )
        return self.sudo().create(
            {
                "code": code,
                "name": self.env._("Dedicated to %s", tenant.name),
                "dedicated_tenant_id": tenant.id,
                "open_for_tenants": False,
                "capacity": 1,
            }
        )
