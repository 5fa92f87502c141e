"""The PostgreSQL roles of the tenant runtime, as the control plane makes them.

Everything here is per cell (ipai_platform_rules/cells.py names them):

- A cell's routing role (``ipai_runtime`` for the default cell,
  ``ipai_runtime_<cell>`` for others): may log in to the platform database
  and read the view ``ipai_cell_routing``, which shows it its own cell's
  rows only (the view filters on ``session_user``), and the routing version
  sequence; nothing more.
- Each tenant's own role: may log in to its own database only and owns
  everything inside it (no superuser, CREATEDB, CREATEROLE, no membership).
- The template owner: owns what is inside template databases until each
  copy hands it to its tenant (REASSIGN OWNED), reaching no other copy.
- A cell's session store role (``ipai_sessions`` / ``ipai_sessions_<cell>``):
  may log in to the store of that cell's sessions (a database of its own,
  OCA session_db's table) and nowhere else.

Passwords are derived from the cell's secret (ipai_tenant_runtime's
credentials), which the control plane derives from its master and the
cell's code: a cell's nodes need nothing from the control plane to log in,
and what they hold opens their own cell's roles alone.
The control plane's own role is made a member of the roles it creates: that
is what lets it reassign ownership and read tenant data for backups. It
never runs DML inside a tenant database as itself (a trigger the tenant
planted would run with its rights): it logs in as the tenant's role.
"""

import contextlib
import logging

import psycopg2
from odoo.addons.ipai_platform_rules import cells
from odoo.addons.ipai_tenant_core.infra import pg
from odoo.addons.ipai_tenant_runtime import credentials
from odoo.tools import config
from psycopg2 import sql

_logger = logging.getLogger(__name__)


def routing_role(cell):
    """Cell ``cell``'s routing role; the default cell's may be renamed with
    the ``ipai_runtime_role`` option (as before cells), on both sides."""
    if cell == cells.DEFAULT_CELL:
        return config.get("ipai_runtime_role") or cells.routing_role(cell)
    return cells.routing_role(cell)


def session_store(cell):
    """Cell ``cell``'s session store (database and role); the default
    cell's may be renamed with the ``ipai_session_db`` option."""
    if cell == cells.DEFAULT_CELL:
        return config.get("ipai_session_db") or cells.session_store(cell)
    return cells.session_store(cell)


def grant_cell_routing_access(cr, cell):
    """Run in the platform database for each cell (when the routing view is
    made, and when a cell is created): its routing role, its password and
    its only rights."""
    role = routing_role(cell)
    _ensure_role(cr, role, cell)
    database = sql.Identifier(cr.dbname)
    cr.execute(sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(database))
    cr.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    cr.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, sql.Identifier(role)))
    # The unfiltered view is the control plane's; a cell reads its own rows.
    cr.execute(sql.SQL("REVOKE ALL ON ipai_tenant_routing FROM {}").format(sql.Identifier(role)))
    cr.execute(sql.SQL("GRANT SELECT ON ipai_cell_routing TO {}").format(sql.Identifier(role)))
    cr.execute(
        sql.SQL("GRANT SELECT ON SEQUENCE ipai_routing_version TO {}").format(sql.Identifier(role))
    )


def ensure_session_store(server, cell):
    """The shared store of cell ``cell``'s sessions on ``server``: its
    database, closed to everyone but its login role, which may create
    session_db's table there. Idempotent; run with the routing access."""
    name = session_store(cell)
    try:
        password = credentials.role_password(name, cell)
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


def _ensure_role(cr, role, cell):
    cr.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    # Only a superuser may even mention SUPERUSER in ALTER ROLE; a role we
    # create is never one, and ALTER ROLE cannot make it one without it.
    verb = "ALTER ROLE {}" if cr.fetchone() else "CREATE ROLE {} NOSUPERUSER"
    cr.execute(
        sql.SQL(verb + " LOGIN NOCREATEDB NOCREATEROLE NOINHERIT").format(sql.Identifier(role))
    )
    try:
        password = credentials.role_password(role, cell)
    except credentials.MissingRuntimeSecret as exc:
        _logger.warning("%s: the tenant runtime will not be able to log in as %s", exc, role)
        return
    cr.execute(
        sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
    )


def ensure_owned_role(server, role, cell=None):
    """A login role with nothing but its login, the control plane a member of
    it; its password is derived from cell ``cell``'s secret (None: the
    default cell's), so nothing is stored. Run again with another cell, it
    re-keys the role: that cell's nodes may log in as it, no other's."""
    pg.ensure_login_role(server, role, credentials.role_password(role, cell))
    server.execute(
        sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), sql.Identifier(server.user))
    )


def forget_role_sessions(server, role):
    """End every open connection of ``role`` (a cell that no longer serves
    it keeps none: its nodes must log in again, which its new password
    refuses them). Returns how many were ended."""
    rows = server.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [role]
    )
    return sum(1 for (ended,) in rows or () if ended)


def as_role(server, role, cell=None):
    """``server`` as seen by ``role`` of cell ``cell``: how the control
    plane opens a tenant database for anything that runs inside it."""
    return pg.Server(
        host=server.host,
        port=server.port,
        user=role,
        password=credentials.role_password(role, cell),
        statement_timeout_ms=pg.TENANT_STATEMENT_TIMEOUT_MS,
    )
