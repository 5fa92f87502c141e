"""PostgreSQL operations on a database server, in autocommit.

Identifiers only ever reach SQL through ``psycopg2.sql.Identifier`` and
values through parameters or ``sql.Literal``; callers validate names first.
"""

import contextlib
import re
import threading
from dataclasses import dataclass

import psycopg2
from psycopg2 import sql

from . import crypto

# Every engine connection carries these, so a step stuck behind a lock or a
# runaway statement fails (and is retried) instead of holding its runner
# forever. Statements are generous: CREATE DATABASE of a large template and
# REASSIGN OWNED of a big tenant are single statements.
LOCK_TIMEOUT_MS = 30_000
STATEMENT_TIMEOUT_MS = 15 * 60_000
# What runs inside a tenant database as its role (configuration pushes,
# neutralization, usage counts) is a few small statements; a trigger or lock
# the tenant planted must not hold one of the platform's few runners longer.
TENANT_STATEMENT_TIMEOUT_MS = 60_000


def timeout_options(statement_timeout_ms):
    return f"-c lock_timeout={LOCK_TIMEOUT_MS} -c statement_timeout={statement_timeout_ms}"


# COMMENT ON DATABASE marks what the platform created, so a database of the
# same name made by someone else is never mistaken for a tenant's. Comments
# are readable by every role of the cluster, tenants included: the mark is
# an HMAC of what it says (e.g. "tenant:acme") under a key derived from the
# platform's IPAI_ENCRYPTION_KEY, which names no tenant and which nobody
# without the key can make for another database.
OWNER_MARK = "ipai:"
SEALED_MARK = re.compile(r"^ipai:[0-9a-f]{32}$")


def owner_mark(mark):
    """The comment the platform puts on a database it made for ``mark``."""
    return OWNER_MARK + crypto.seal(mark)[:32]


@dataclass(frozen=True)
class Server:
    host: str | None
    port: int | None
    user: str
    password: str | None = None
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS

    @contextlib.contextmanager
    def connect(self, dbname="postgres", user=None, password=None):
        conn = self._open(dbname, user, password)
        try:
            yield conn
        finally:
            conn.close()

    def _open(self, dbname, user=None, password=None):
        conn = psycopg2.connect(
            dbname=dbname,
            host=self.host or None,
            port=self.port or None,
            user=user or self.user,
            password=password if user else self.password,
            connect_timeout=10,
            application_name="ipai-provisioning",
            options=timeout_options(self.statement_timeout_ms),
        )
        conn.autocommit = True
        return conn

    def execute(self, query, params=None, dbname="postgres"):
        if dbname == "postgres":
            return _execute_on_maintenance_connection(self, query, params)
        with self.connect(dbname) as conn, conn.cursor() as cr:
            cr.execute(query, params)
            return cr.fetchall() if cr.description else None


# The engine asks the maintenance database a dozen small things per job (is a
# name taken, whose mark is this, create, drop): one connection per thread
# and server, kept, instead of a new backend (about 5 ms) for each question.
_MAINTENANCE = threading.local()


def _execute_on_maintenance_connection(server, query, params):
    connections = _MAINTENANCE.__dict__.setdefault("connections", {})
    for attempt in range(2):
        conn = connections.get(server)
        fresh = conn is None or conn.closed
        if fresh:
            conn = connections[server] = server._open("postgres")
        try:
            with conn.cursor() as cr:
                cr.execute(query, params)
                return cr.fetchall() if cr.description else None
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            if not (conn.closed or exc.pgcode is None):
                raise  # a timeout, a database in use...: the statement's own failure
            # A kept connection the server dropped (restart, idle timeout):
            # one more try on a new one; a new one failing is a real outage.
            connections.pop(server, None)
            conn.close()
            if fresh or attempt:
                raise
    return None


def database_exists(server, name):
    return bool(server.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]))


def database_mark(server, name):
    """The comment on ``name`` (the platform's mark: compare it with
    ``owner_mark``), '' if none, None if the database does not exist."""
    rows = server.execute(
        """SELECT coalesce(shobj_description(oid, 'pg_database'), '')
             FROM pg_database WHERE datname = %s""",
        [name],
    )
    return rows[0][0] if rows else None


def mark_database(server, name, mark):
    server.execute(
        sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            sql.Identifier(name), sql.Literal(owner_mark(mark))
        )
    )


def terminate_connections(server, name):
    server.execute(
        """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = %s AND pid <> pg_backend_pid()""",
        [name],
    )


def create_database_from(server, name, template):
    """CREATE DATABASE ``name`` as a copy of ``template``; PostgreSQL refuses
    while anyone is connected to the template, so connections are closed.
    Nobody but the owner may connect until a role is granted it."""
    terminate_connections(server, template)
    server.execute(
        sql.SQL("CREATE DATABASE {} WITH TEMPLATE {} OWNER {}").format(
            sql.Identifier(name), sql.Identifier(template), sql.Identifier(server.user)
        )
    )
    revoke_public_connect(server, name)


def create_empty_database(server, name):
    """An empty database as Odoo makes one (UTF-8, C collation), closed to PUBLIC."""
    server.execute(
        sql.SQL("CREATE DATABASE {} ENCODING 'unicode' LC_COLLATE 'C' TEMPLATE template0").format(
            sql.Identifier(name)
        )
    )
    revoke_public_connect(server, name)
    with server.connect(name) as conn, conn.cursor() as cr:
        cr.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        # Trusted since PostgreSQL 13; Odoo's trigram indexes use it.
        with contextlib.suppress(psycopg2.Error):
            cr.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")


def revoke_public_connect(server, name):
    server.execute(
        sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name))
    )


def hand_over(server, database, from_role, to_role):
    """Make ``to_role`` the owner of everything inside ``database`` that
    ``from_role`` owns (the template's owner, or a cloned tenant's role),
    strip ``from_role`` of its rights there, and let ``to_role`` in. Only
    this database changes: REASSIGN OWNED touches the current database's
    objects, and DROP OWNED, which also revokes ``from_role``'s rights on
    every *database* of the cluster, is followed in the same transaction by
    granting those back, so the source of a copy (a tenant still serving,
    the template owner on its templates) keeps connecting as before."""
    with server.connect(database) as conn, conn.cursor() as cr:
        cr.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        if from_role != to_role:
            with _cluster_lock(server, HAND_OVER_LOCK):
                _reassign(cr, database, from_role, to_role)
        cr.execute(
            sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(sql.Identifier(to_role))
        )
    server.execute(
        sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
            sql.Identifier(database), sql.Identifier(to_role)
        )
    )


# pg_advisory_lock keys are per database: taken on the maintenance database,
# one key serializes a kind of work over the whole cluster.
HAND_OVER_LOCK = 0x1BA1_0001


@contextlib.contextmanager
def _cluster_lock(server, key):
    """Hold a cluster-wide advisory lock while the block runs. DROP OWNED
    rewrites the ACL of every database the role has rights on; two clones of
    one template doing so at once fail with "tuple concurrently updated"."""
    with server.connect() as conn, conn.cursor() as cr:
        # Queued behind other hand-overs is waiting, not a stuck lock: only
        # the statement timeout bounds it.
        cr.execute("SET lock_timeout = 0")
        cr.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
            cr.execute("SELECT pg_advisory_unlock(%s)", (key,))


def _reassign(cr, database, from_role, to_role):
    """In one transaction on ``database``: ``to_role`` takes over what
    ``from_role`` owns there, and ``from_role``'s rights on other databases,
    which DROP OWNED revokes too, are granted back."""
    cr.execute("BEGIN")
    kept = _database_grants(cr, from_role)
    cr.execute(
        sql.SQL("REASSIGN OWNED BY {} TO {}").format(
            sql.Identifier(from_role), sql.Identifier(to_role)
        )
    )
    cr.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(from_role)))
    for other_database, privilege in kept:
        if other_database != database:
            cr.execute(
                sql.SQL("GRANT {} ON DATABASE {} TO {}").format(
                    sql.SQL(privilege),
                    sql.Identifier(other_database),
                    sql.Identifier(from_role),
                )
            )
    cr.execute("COMMIT")


# Database privileges are few and fixed; kept as SQL keywords, not user input.
DATABASE_PRIVILEGES = frozenset({"CONNECT", "TEMPORARY", "CREATE"})


def _database_grants(cr, role):
    """(database, privilege) of every right granted to ``role`` on a database."""
    cr.execute(
        """SELECT d.datname, a.privilege_type
             FROM pg_database d, aclexplode(d.datacl) a
            WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = %s)""",
        [role],
    )
    return [
        (name, privilege) for name, privilege in cr.fetchall() if privilege in DATABASE_PRIVILEGES
    ]


def rename_database(server, old, new):
    terminate_connections(server, old)
    server.execute(
        sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new))
    )


def set_allow_connections(server, name, allowed):
    server.execute(
        sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
            sql.Identifier(name), sql.SQL("true" if allowed else "false")
        )
    )


def drop_database(server, name):
    server.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def database_size(server, name):
    rows = server.execute("SELECT pg_database_size(%s)", [name])
    return rows[0][0] if rows else 0


def role_exists(server, role):
    return bool(server.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]))


def ensure_login_role(server, role, password):
    """Create ``role`` (or reset its password): it may log in, nothing more."""
    # Only a superuser may even mention SUPERUSER in ALTER ROLE.
    verb = "ALTER ROLE {}" if role_exists(server, role) else "CREATE ROLE {} NOSUPERUSER"
    server.execute(
        sql.SQL(verb + " LOGIN NOCREATEDB NOCREATEROLE PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(password)
        )
    )


def drop_role(server, role):
    server.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def restrict_connect(server, database, *roles):
    """Only the owner and ``roles`` may connect to ``database``."""
    server.execute(
        sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(
            sql.Identifier(database)
        )
    )
    for role in roles:
        server.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(database), sql.Identifier(role)
            )
        )


def ensure_schema(server, database, schema, reader_role):
    with server.connect(database) as conn, conn.cursor() as cr:
        cr.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        cr.execute(
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                sql.Identifier(schema), sql.Identifier(reader_role)
            )
        )
        cr.execute(
            sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON TABLES TO {}").format(
                sql.Identifier(schema), sql.Identifier(reader_role)
            )
        )


def try_advisory_lock(conn, key):
    with conn.cursor() as cr:
        cr.execute("SELECT pg_try_advisory_lock(%s)", [key])
        return cr.fetchone()[0]
