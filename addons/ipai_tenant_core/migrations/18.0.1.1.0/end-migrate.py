"""Two records made safe by 18.0.1.1.0.

Ownership marks: databases were marked in clear ('ipai:tenant:acme'),
readable by every role of the cluster, tenants included. Each mark in the
old form is rewritten as the platform's HMAC of the same words (pg.owner_mark),
so every check made since reads the new form.

Kept modules: before 18.0.1.1.0 the module gate let every module marked installed in a
tenant database load, and the platform did not record what a plan change
left installed. Now only the plan's modules and ``kept_modules`` load: this
records, once, what each provisioned tenant has installed beyond its plan
(read as the tenant's own role; trusted as of this upgrade). A database that
cannot be read is logged and left for its operator: its tenant loads its
plan's modules only until its modules are recorded.

An end- script: it reads the engine's templates and pool members, which
ipai_tenant_engine holds since 18.0.1.2.0; at the end of the upgrade every
addon is loaded, whichever version it started from."""

import logging

import psycopg2
from odoo import SUPERUSER_ID, api
from odoo.addons.ipai_tenant_core.infra import pg
from odoo.addons.ipai_tenant_engine.provisioning.runtime_access import as_role

_logger = logging.getLogger(__name__)

LOADED_STATES = ("installed", "to upgrade", "to remove")


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    _seal_marks(env)
    _record_kept_modules(env)


def _seal_marks(env):
    """Reseal the old marks of the databases this platform knows (its
    tenants', templates' and warm-pool members'), never another platform's
    sharing the cluster. A database it may not comment on is logged and
    left: the engine will refuse it as not its own, which is the safe side."""
    templates = set(env["ipai.tenant.template"].search([]).mapped("database_name"))
    tenants = env["ipai.tenant"].with_context(active_test=False)
    tenants = tenants.search([("database_name", "!=", False)])
    default_server = env["ipai.tenant.server"]._default_server()
    for server in env["ipai.tenant.server"].search([]):
        on_server = tenants.filtered(
            lambda tenant, server=server: (tenant.server_id or default_server) == server
        )
        members = env["ipai.tenant.pool.member"].search([("server_id", "=", server.id)])
        names = sorted(
            templates
            | set(on_server.mapped("database_name"))
            | set(members.mapped("database_name"))
        )
        connection = server._pg_server()
        rows = connection.execute(
            """SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database
                WHERE datname = ANY(%s)""",
            [names],
        )
        for name, comment in rows or []:
            if not (comment or "").startswith(pg.OWNER_MARK) or pg.SEALED_MARK.match(comment):
                continue
            try:
                pg.mark_database(connection, name, comment[len(pg.OWNER_MARK) :])
            except psycopg2.Error as exc:
                _logger.error("%s: ownership mark not sealed: %s", name, exc)
                continue
            _logger.info("%s: ownership mark sealed", name)


def _record_kept_modules(env):
    tenants = env["ipai.tenant"].search(
        [("state", "in", ("active", "suspended", "maintenance")), ("database_name", "!=", False)]
    )
    for tenant in tenants:
        try:
            rows = as_role(tenant._pg_server(), tenant.runtime_role).execute(
                "SELECT name FROM ir_module_module WHERE state IN %s",
                [LOADED_STATES],
                dbname=tenant.database_name,
            )
        except Exception as exc:
            _logger.error("%s: installed modules not recorded: %s", tenant.code, exc)
            continue
        beyond = {name for (name,) in rows or []} - set(tenant._engine_module_set())
        if beyond:
            tenant._keep_modules(beyond)
            _logger.info("%s: kept modules recorded: %s", tenant.code, sorted(beyond))
