"""What the tenant runtime may know of the platform: one read-only view.

``ipai_tenant_routing`` holds every cell's routes (the control plane reads
it). A cell's nodes log in to the platform database as the cell's routing
role, which may read ``ipai_cell_routing`` (the same rows, filtered by
PostgreSQL to the cell whose routing role logged in: ``session_user``, which
no SQL the role runs can change) and the routing version sequence, and
nothing else:
no tenant, secret, job or audit row. Per host name: the tenant's database,
its database server, its own PostgreSQL role, its state, its plan's limits
and module set. Ready warm-pool members are listed without a host name
(state ``pool``): no request reaches them, a runtime may preload them.
"""

import logging

from odoo import fields, models, tools
from odoo.addons.ipai_platform_rules import lifecycle, naming
from odoo.addons.ipai_platform_rules.routes import ROUTE_COLUMNS
from odoo.addons.ipai_platform_rules.tenant_side import with_tenant_side
from odoo.addons.ipai_tenant_core.models.ipai_tenant import (
    DATABASE_PREFIX_PARAM,
    DEFAULT_PLATFORM_HOSTS,
)
from odoo.addons.ipai_tenant_core.models.ipai_tenant_plan import TENANT_BASE_MODULES
from odoo.tools import SQL

from ..provisioning import runtime_access

_logger = logging.getLogger(__name__)

# A tenant in maintenance stays routed: the runtime answers its maintenance page.
ROUTED_STATES = (lifecycle.ACTIVE, lifecycle.SUSPENDED, lifecycle.MAINTENANCE)


def _columns(table):
    return SQL(", ").join(SQL.identifier(table, column) for column in ROUTE_COLUMNS)


class IpaiTenantRouting(models.Model):
    _name = "ipai.tenant.routing"
    _description = "Tenant routing (what the tenant runtime reads)"
    _auto = False
    _order = "host"

    host = fields.Char(readonly=True)
    database_name = fields.Char(readonly=True)
    state = fields.Char(readonly=True)
    tenant_role = fields.Char(readonly=True)
    db_host = fields.Char(readonly=True)
    db_port = fields.Integer(readonly=True)
    plan_code = fields.Char(readonly=True)
    plan_name = fields.Char(readonly=True)
    max_users = fields.Integer(readonly=True)
    max_users_per_company = fields.Integer(readonly=True)
    max_companies = fields.Integer(readonly=True)
    feature_bi = fields.Boolean(readonly=True)
    max_mails_day = fields.Integer(readonly=True)
    feature_own_smtp = fields.Boolean(readonly=True)
    cell_code = fields.Char(readonly=True)
    replica_host = fields.Char(readonly=True)
    replica_port = fields.Integer(readonly=True)
    replica_max_lag = fields.Integer(readonly=True)
    # The documented name (<database prefix><code>) where the database has
    # another one (a warm-pool member keeps its own): clients naming it in
    # RPC calls reach the tenant their host already chose.
    database_alias = fields.Char(readonly=True)

    def init(self):
        always = with_tenant_side(TENANT_BASE_MODULES)
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                """CREATE VIEW ipai_tenant_routing AS
                   WITH tenant AS (
                       SELECT t.id, t.code, t.database_name, t.state,
                              NULLIF(COALESCE((SELECT value FROM ir_config_parameter
                                                WHERE key = %(prefix_key)s), %(prefix)s)
                                     || t.code, t.database_name) AS database_alias,
                              t.runtime_role AS tenant_role,
                              NULLIF(s.host, '') AS db_host,
                              CASE WHEN NULLIF(s.host, '') IS NOT NULL THEN s.port END AS db_port,
                              p.code AS plan_code,
                              COALESCE(p.name->>'en_US', p.code) AS plan_name,
                              p.max_users, p.max_users_per_company, p.max_companies,
                              COALESCE(p.feature_bi, false) AS feature_bi,
                              p.max_mails_day,
                              COALESCE(p.feature_own_smtp, false) AS feature_own_smtp,
                              c.code AS cell_code,
                              -- Read-only requests go there (the runtime
                              -- checks its lag, and falls back).
                              NULLIF(s.replica_host, '') AS replica_host,
                              CASE WHEN NULLIF(s.replica_host, '') IS NOT NULL
                                   THEN s.replica_port END AS replica_port,
                              s.replica_max_lag,
                              ARRAY(SELECT DISTINCT name FROM (
                                        SELECT unnest(%(always)s::varchar[]) AS name
                                        UNION
                                        SELECT m.name FROM ipai_tenant_plan_ir_module_module_rel r
                                          JOIN ir_module_module m ON m.id = r.ir_module_module_id
                                         WHERE r.ipai_tenant_plan_id = p.id
                                        UNION
                                        -- What earlier plans left installed.
                                        SELECT unnest(string_to_array(t.kept_modules, ','))
                                       ) names
                                  WHERE name <> ''
                                     ORDER BY name) AS modules
                         FROM ipai_tenant t
                         JOIN ipai_tenant_plan p ON p.id = t.plan_id
                         LEFT JOIN ipai_tenant_cell c ON c.id = t.cell_id
                         LEFT JOIN ipai_tenant_server s ON s.id = t.server_id
                        WHERE t.state IN %(states)s
                          AND t.database_name IS NOT NULL AND t.runtime_role IS NOT NULL
                   ), base AS (
                       SELECT COALESCE((SELECT value FROM ir_config_parameter
                                         WHERE key = 'ipai_tenant_core.base_domain'),
                                       'localhost') AS domain
                   )
                   , route AS (
                   SELECT t.id AS tenant_id, hosts.host, %(tenant_columns)s
                     FROM tenant t
                     JOIN LATERAL (
                          SELECT t.code || '.' || base.domain AS host FROM base
                          UNION
                          SELECT d.name FROM ipai_tenant_domain d
                           WHERE d.tenant_id = t.id AND d.verified
                             -- The platform's host names always win.
                             AND d.name <> ALL (string_to_array(COALESCE(
                                     (SELECT value FROM ir_config_parameter
                                       WHERE key = 'ipai_tenant_core.platform_hosts'),
                                     %(platform_hosts)s), ','))
                     ) hosts ON true
                   UNION ALL
                   -- Warm-pool members: no host reaches them (never routed);
                   -- listed so that a runtime may load their registries.
                   SELECT -m.id, NULL, m.database_name, 'pool', m.role_name,
                          NULLIF(s.host, ''),
                          CASE WHEN NULLIF(s.host, '') IS NOT NULL THEN s.port END,
                          NULL, NULL, NULL, NULL, NULL, NULL::varchar[], false, c.code,
                          NULL, NULL, NULL, NULL, false, NULL
                     FROM ipai_tenant_pool_member m
                     JOIN ipai_tenant_server s ON s.id = m.server_id
                     LEFT JOIN ipai_tenant_cell c ON c.id = m.cell_id
                    WHERE m.state = 'ready'
                   )
                   -- One owner per database and per host name: rows that
                   -- share either with another tenant (or a pool member) are
                   -- left out, so no second row can take over a route. The
                   -- tenant table's constraints keep this from happening;
                   -- this keeps the runtime's contract whatever is stored.
                   SELECT row_number() OVER () AS id, r.host, %(route_columns)s
                     FROM route r
                    WHERE r.database_name NOT IN (
                              SELECT database_name FROM route WHERE database_name IS NOT NULL
                              GROUP BY database_name
                              HAVING count(DISTINCT tenant_id) > 1)
                      AND r.tenant_role NOT IN (
                              SELECT tenant_role FROM route WHERE tenant_role IS NOT NULL
                              GROUP BY tenant_role
                              HAVING count(DISTINCT tenant_id) > 1)
                      AND (r.host IS NULL OR r.host NOT IN (
                              SELECT host FROM route WHERE host IS NOT NULL GROUP BY host
                              HAVING count(DISTINCT tenant_id) > 1))""",
                always=always,
                states=ROUTED_STATES,
                platform_hosts=DEFAULT_PLATFORM_HOSTS,
                tenant_columns=_columns("t"),
                route_columns=_columns("r"),
                prefix_key=DATABASE_PREFIX_PARAM,
                prefix=naming.DATABASE_PREFIX,
            )
        )
        # A cell's nodes see their own cell's rows: PostgreSQL filters on
        # the role that logged in. security_barrier: no function a caller
        # could slip into a query runs on the rows before the filter.
        self.env.cr.execute(
            """CREATE VIEW ipai_cell_routing WITH (security_barrier) AS
               SELECT r.* FROM ipai_tenant_routing r
                 JOIN ipai_tenant_cell c ON c.code = r.cell_code
                WHERE c.routing_role = session_user"""
        )
        self.env.cr.execute("SELECT code FROM ipai_tenant_cell ORDER BY code")
        server = self.env["ipai.tenant.server"]._platform_pg_server()
        for (cell,) in self.env.cr.fetchall():
            runtime_access.grant_cell_routing_access(self.env.cr, cell)
            runtime_access.ensure_session_store(server, cell)
