"""What the platform measures of a PostgreSQL server, and whether it is fit
to hold tenant databases. Plain Python over one connection as the
platform's role.

Fit means: reachable; the platform's role may create databases and roles
(and is no superuser: it must not be able to step outside the rights the
platform's design gives it); the server is no newer than this machine's
``pg_dump`` (backups and moves dump with it). Healthy also means no
database is open to PUBLIC, so a tenant's role connects to its own
database alone: a database made later by someone else and left open is a
warning (the server stays in use, the operator is told which). The
bootstrap makes the local server so; ``scripts/add_server.sh`` makes a new
one so before it is registered, and registers it only when healthy.
"""

import re
import shutil
import subprocess
from dataclasses import dataclass, field

import psycopg2
from odoo.addons.ipai_platform_rules import replicas

HEALTHY = "ok"
# Usable, with something an operator should mend (a database open to
# PUBLIC, made after the server was prepared): listed, still placed.
WARNING = "warning"
UNREACHABLE = "unreachable"
UNFIT = "unfit"

# A database whose ACL still gives PUBLIC (the empty grantee) CONNECT,
# including one with the default (NULL) ACL, which does.
OPEN_TO_PUBLIC = """
SELECT datname FROM pg_database
 WHERE datallowconn AND (datacl IS NULL OR datacl::text ~ '(^|[{,])=[^,}]*c')
 ORDER BY datname
"""
FIGURES = """
SELECT current_setting('server_version_num')::int,
       (SELECT count(*) FROM pg_database WHERE NOT datistemplate),
       (SELECT coalesce(sum(pg_database_size(datname)), 0) FROM pg_database
         WHERE datallowconn AND has_database_privilege(datname, 'CONNECT')),
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
       current_setting('max_connections')::int,
       r.rolcreatedb, r.rolcreaterole, r.rolsuper
  FROM pg_roles r WHERE r.rolname = current_user
"""


@dataclass(frozen=True)
class Figures:
    health: str
    problems: tuple = ()
    version_num: int = 0
    databases: int = 0
    size_bytes: int = 0
    connections: int = 0
    max_connections: int = 0
    open_to_public: tuple = field(default=())

    @property
    def version(self):
        if not self.version_num:
            return ""
        return f"{self.version_num // 10000}.{self.version_num % 10000}"


def pg_dump_major():
    """The major version of this machine's pg_dump, or None."""
    binary = shutil.which("pg_dump")
    if not binary:
        return None
    output = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"(\d+)(?:\.\d+)?", output.stdout)
    return int(match.group(1)) if match else None


def first_line(exc):
    """What PostgreSQL (or libpq) said, in one line."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def measure(server):
    """The figures and fitness of ``server`` (an ``infra.pg.Server``)."""
    try:
        with server.connect("postgres") as conn, conn.cursor() as cr:
            cr.execute(FIGURES)
            row = cr.fetchone()
            cr.execute(OPEN_TO_PUBLIC)
            open_to_public = tuple(name for (name,) in cr.fetchall())
    except psycopg2.Error as exc:
        return Figures(health=UNREACHABLE, problems=(first_line(exc),))
    if row is None:  # the role vanished between login and the query
        return Figures(health=UNREACHABLE, problems=("the platform's role does not exist",))
    version_num, databases, size, connections, max_connections, createdb, createrole, su = row
    problems = []
    if not (createdb and createrole):
        problems.append(f"role {server.user} needs CREATEDB and CREATEROLE")
    if su:
        problems.append(f"role {server.user} must not be a superuser")
    dump_major = pg_dump_major()
    if dump_major and version_num // 10000 > dump_major:
        problems.append(
            f"PostgreSQL {version_num // 10000} is newer than this machine's pg_dump "
            f"({dump_major}): backups and moves could not read it"
        )
    health = UNFIT if problems else HEALTHY
    if open_to_public:
        problems.append("open to every role (PUBLIC CONNECT): " + ", ".join(open_to_public))
        health = UNFIT if health == UNFIT else WARNING
    return Figures(
        health=health,
        problems=tuple(problems),
        version_num=version_num,
        databases=databases,
        size_bytes=size,
        connections=connections,
        max_connections=max_connections,
        open_to_public=open_to_public,
    )


# ------------------------------------------------------------------ replicas

REPLICA_OK = "ok"
REPLICA_BEHIND = "behind"
REPLICA_UNREACHABLE = "unreachable"
REPLICA_NOT_STANDBY = "not_standby"
# Never named as a replica: a lagging one is (it catches up).
REPLICA_REFUSED = (REPLICA_UNREACHABLE, REPLICA_NOT_STANDBY)


@dataclass(frozen=True)
class ReplicaFigures:
    state: str
    lag_seconds: float = 0.0
    problem: str = ""


def measure_replica(server, max_lag_seconds):
    """The state of the streaming replica ``server`` (an ``infra.pg.Server``
    pointing at the replica) and its lag, as the platform's role."""
    try:
        with server.connect("postgres") as conn, conn.cursor() as cr:
            cr.execute(replicas.LAG_QUERY)
            (lag,) = cr.fetchone()
    except psycopg2.Error as exc:
        return ReplicaFigures(REPLICA_UNREACHABLE, problem=first_line(exc))
    problem = replicas.lag_problem(lag, max_lag_seconds)
    if lag is None:
        return ReplicaFigures(REPLICA_NOT_STANDBY, problem=problem)
    return ReplicaFigures(REPLICA_BEHIND if problem else REPLICA_OK, lag, problem or "")
