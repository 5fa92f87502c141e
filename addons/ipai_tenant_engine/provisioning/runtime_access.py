"""The PostgreSQL roles of the tenant runtime, as the control plane makes them.

- The routing role (``ipai_runtime``): may log in to the platform database
  and read the routing view and its version sequence, nothing more.
- Each tenant's own role: may log in to its own database only and owns
  everything inside it (no superuser, CREATEDB, CREATEROLE, no membership).
- The template owner: owns what is inside template databases until each
  copy hands it to its tenant (REASSIGN OWNED), reaching no other copy.
- The session store's role (``ipai_sessions``): may log in to the store of
  the runtime's sessions (a database of its own, OCA session_db's table)
  and nowhere else.

Passwords are derived from IPAI_RUNTIME_SECRET (ipai_tenant_runtime's
credentials), so the runtime needs nothing from the control plane to log in.
The control plane's own role is made a member of the roles it creates: that
is what lets it reassign ownership and read tenant data for backups. It
never runs DML inside a tenant database as itself (a trigger the tenant
planted would run with its rights): it logs in as the tenant's role.
"""

import contextlib
import logging

import psycopg2
from odoo.addons.ipai_tenant_core.infra import pg
from odoo.addons.ipai_tenant_runtime import credentials, runtime_config
from psycopg2 import sql

_logger = logging.getLogger(__name__)


def grant_routing_access(cr):
    """Run in the platform database when ipai_tenant_core is installed or
    updated: the routing role, its password and its only rights."""
    role = runtime_config.runtime_role()
    _ensure_role(cr, role)
    database = sql.Identifier(cr.dbname)
    cr.execute(sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(database))
    cr.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    cr.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, sql.Identifier(role)))
    cr.execute(sql.SQL("GRANT SELECT ON ipai_tenant_routing TO {}").format(sql.Identifier(role)))
    cr.execute(
        sql.SQL("GRANT SELECT ON SEQUENCE ipai_routing_version TO {}").format(sql.Identifier(role))
    )


def ensure_session_store(server):
    """The shared store of the tenant runtime's sessions on ``server``: its
    database, closed to everyone but its login role, which may create
    session_db's table there. Idempotent; run with the routing access."""
    name = runtime_config.session_store()
    try:
        password = credentials.role_password(name)
    except credentials.MissingRuntimeSecret as exc:
        _logger.warning("%s: the tenant runtime will keep its sessions on each node", exc)
        return
    pg.ensure_login_role(server, name, password)
    if not pg.database_exists(server, name):
        # A concurrent install may have made it meanwhile.
        with contextlib.suppress(psycopg2.errors.DuplicateDatabase):
            pg.create_empty_database(server, name)
    pg.restrict_connect(server, name, name)
    with server.connect(name) as conn, conn.cursor() as cr:
        grant = sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}")
        cr.execute(grant.format(sql.Identifier(name)))


def _ensure_role(cr, role):
    cr.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    # Only a superuser may even mention SUPERUSER in ALTER ROLE; a role we
    # create is never one, and ALTER ROLE cannot make it one without it.
    verb = "ALTER ROLE {}" if cr.fetchone() else "CREATE ROLE {} NOSUPERUSER"
    cr.execute(
        sql.SQL(verb + " LOGIN NOCREATEDB NOCREATEROLE NOINHERIT").format(sql.Identifier(role))
    )
    try:
        password = credentials.role_password(role)
    except credentials.MissingRuntimeSecret as exc:
        _logger.warning("%s: the tenant runtime will not be able to log in as %s", exc, role)
        return
    cr.execute(
        sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
    )


def ensure_owned_role(server, role):
    """A login role with nothing but its login, the control plane a member of
    it; its password is derived, so nothing is stored."""
    pg.ensure_login_role(server, role, credentials.role_password(role))
    server.execute(
        sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), sql.Identifier(server.user))
    )


def as_role(server, role):
    """``server`` as seen by ``role``: how the control plane opens a tenant
    database for anything that runs inside it."""
    return pg.Server(
        host=server.host,
        port=server.port,
        user=role,
        password=credentials.role_password(role),
        statement_timeout_ms=pg.TENANT_STATEMENT_TIMEOUT_MS,
    )
