"""Moving a tenant's database to another PostgreSQL server (dump and restore).

The tenant shows the maintenance page while its database is copied: the
tenant's roles lose CONNECT on the source and their open connections end
(a transaction not committed by then is rolled back, and none can start
again), so the copy has every committed write and nothing is written after
it. ``default_transaction_read_only`` would not do: Odoo opens its
transactions with an explicit READ WRITE. The source is dumped in parallel
as the platform's role (a member of the tenant's role) and replayed on the
target by the tenant's own role, into a database marked as a move's copy.
The copy is compared with the source (row counts of every table, every
sequence above its column's highest value) before the route flips. The
switch re-marks both databases and moves the tenant's server in one step;
until then the tenant's server is the source, and a failure (or a run
killed anywhere) leaves it serving from there: the undo drops the copy,
gives CONNECT back and ends the maintenance. After the switch the source is
kept, closed and marked as moved, for a grace period
(``ipai.tenant.moved.source`` and its cron) or dropped at once when the job
asked for no grace.

The database keeps its name, so its filestore (named after the database,
on the nodes' shared data directory or in the object store) stays where it
is: only PostgreSQL's part moves.
"""

import logging
import os
import shutil
import subprocess
import time

import psycopg2
import requests
from odoo.addons.ipai_platform_rules import lifecycle
from odoo.addons.ipai_tenant_core.infra import pg
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError, RetryableError
from odoo.addons.ipai_tenant_engine.provisioning import (
    operations,
    runtime_access,
    superset_workspace,
)
from odoo.addons.ipai_tenant_engine.provisioning.faults import failpoint
from psycopg2 import sql

from . import backup_steps, backups
from .spec import of

# Parallel dump and restore workers (each a connection on its server).
COPY_JOBS = 2
# What the estimate assumes a dump and restore moves per second, measured
# on this project's reference machine (docs/benchmarks.md, bench-move).
ESTIMATED_BYTES_PER_SECOND = 25 * 1024 * 1024
ESTIMATED_FIXED_SECONDS = 3
SMOKE_TIMEOUT = 60
_logger = logging.getLogger(__name__)
SMOKE_PATIENCE_SECONDS = 20


def moving_mark(code):
    """The mark of a copy on the target that is not the tenant's yet."""
    return f"moving:tenant:{code}"


def moved_mark(code):
    """The mark of a source the tenant has left (dropped after its grace)."""
    return f"moved:tenant:{code}"


def move_of(ctx):
    """The move's servers, or why the job has none (a server removed or
    archived since the request)."""
    move = of(ctx).move
    if move is None or move.problem:
        raise PermanentError(
            (move.problem if move else None)
            or "This job has no target server; nothing was changed."
        )
    return move


def estimate_seconds(size_bytes):
    return ESTIMATED_FIXED_SECONDS + size_bytes / ESTIMATED_BYTES_PER_SECOND


def _marks(*marks):
    return {pg.owner_mark(mark) for mark in marks}


# ------------------------------------------------------------------ steps


def check_move(ctx):
    """The tenant is still on the source, its database there is its own,
    and the target holds nothing of that name but an earlier run's copy."""
    move = move_of(ctx)
    if move.current_id != move.source_id:
        raise PermanentError(
            f"{ctx.tenant.code} is no longer on {move.source_name}; nothing was changed."
        )
    if pg.database_mark(move.source, ctx.database) not in _marks(
        ctx.mark, moved_mark(ctx.tenant.code)
    ):
        raise PermanentError(f"{ctx.database} is not {ctx.tenant.code}'s; nothing was changed.")
    on_target = pg.database_mark(move.target, ctx.database)
    if on_target is not None and on_target not in _marks(moving_mark(ctx.tenant.code)):
        raise PermanentError(
            f"{move.target_name} already has a database named {ctx.database}; nothing was changed."
        )
    size = pg.database_size(move.source, ctx.database)
    ctx.log(
        f"moving {ctx.database} ({size / 1048576:.1f} MB) from {move.source_name} to "
        f"{move.target_name}: in maintenance for about {estimate_seconds(size):.0f} s"
    )


def close_source(ctx):
    """No connection of the tenant's roles to the source from here on: the
    ones open end, new ones are refused by PostgreSQL (the runtime shows the
    maintenance page meanwhile, from the previous step's commit)."""
    move = move_of(ctx)
    _set_connect(move.source, ctx.database, _tenant_roles(ctx), allowed=False)
    ended = _end_tenant_sessions(ctx, move.source)
    ctx.log(f"{ctx.database} is closed to the tenant on {move.source_name} ({ended} ended)")


def copy_to_target(ctx):
    """A parallel dump of the frozen source replayed on the target by the
    tenant's role; what an interrupted run left on the target goes first."""
    move = move_of(ctx)
    code = ctx.tenant.code
    if pg.database_mark(move.target, ctx.database) in _marks(moving_mark(code)):
        pg.drop_database(move.target, ctx.database)
        ctx.log(f"dropped the copy an interrupted run left on {move.target_name}")
    role = ctx.tenant.runtime_role
    runtime_access.ensure_owned_role(move.target, role, ctx.tenant.cell)
    folder = _dump_folder(ctx)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(os.path.dirname(folder), mode=0o700, exist_ok=True)
    started = time.monotonic()
    try:
        _dump(move.source, ctx.database, folder)
        failpoint("during", "copy_to_target")  # dumped, nothing on the target yet
        backups.restore_database(
            move.target,
            role,
            ctx.database,
            folder,
            moving_mark(code),
            ctx.tenant.cell,
            jobs=COPY_JOBS,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ctx.log(
        f"copied to {move.target_name} in {time.monotonic() - started:.1f} s "
        f"({pg.database_size(move.target, ctx.database) / 1048576:.1f} MB there)"
    )


def verify_copy(ctx):
    """The copy has every row and sequence of the frozen source: row counts
    of every table, and every sequence above its column's highest value."""
    move = move_of(ctx)
    target = runtime_access.as_role(move.target, ctx.tenant.runtime_role, ctx.tenant.cell)
    # The source is closed to the tenant's role now: counted as the
    # platform's, where nothing the tenant planted may run (no row security
    # policy: refused instead; names resolved in pg_catalog only).
    with move.source.connect(ctx.database) as conn, conn.cursor() as cr:
        cr.execute("SET row_security = off; SET search_path = pg_catalog")
        expected = table_counts(cr)
    with target.connect(ctx.database) as conn, conn.cursor() as cr:
        found = table_counts(cr)
        behind = sequences_behind(cr)
    differing = sorted(
        table for table in set(expected) | set(found) if expected.get(table) != found.get(table)
    )
    if differing:
        details = ", ".join(
            f"{table} {expected.get(table)} != {found.get(table)}" for table in differing[:5]
        )
        raise PermanentError(f"The copy differs from the source: {details}")
    if behind:
        raise PermanentError(f"Sequences of the copy are behind their tables: {', '.join(behind)}")
    ctx.log(f"{len(found)} tables match ({sum(found.values())} rows); sequences ahead of their ids")


def switch_to_target(ctx):
    """The copy becomes the tenant's database and the source a moved one, and
    the tenant's server moves with this step's commit (the routing version
    with it): the runtime opens the copy from its next connection on."""
    move = move_of(ctx)
    code = ctx.tenant.code
    if pg.database_mark(move.target, ctx.database) not in _marks(moving_mark(code), ctx.mark):
        raise PermanentError(f"The copy on {move.target_name} is missing; nothing was switched.")
    _end_tenant_sessions(ctx, move.source)
    pg.mark_database(move.target, ctx.database, ctx.mark)
    failpoint("during", "switch_to_target")  # both databases are the tenant's for a moment
    pg.mark_database(move.source, ctx.database, moved_mark(code))
    ctx.record("set_server", move.target_id)
    ctx.log(f"{code} now opens {ctx.database} on {move.target_name}")


def check_on_target(ctx):
    """The tenant's role logs in to the copy with its cell's password, and
    the tenant's login page answers through the runtime."""
    move = move_of(ctx)
    target = runtime_access.as_role(move.target, ctx.tenant.runtime_role, ctx.tenant.cell)
    [(users,)] = target.execute("SELECT count(*) FROM res_users", dbname=ctx.database)
    if ctx.tenant.state != lifecycle.ACTIVE:
        ctx.log(f"{users} users on {move.target_name}; {ctx.tenant.state}: no login page to ask")
        return
    url, headers = backup_steps.login_page_request(ctx)
    # The runtime's processes see the new route and the end of the
    # maintenance within about a second each: asked a few times first.
    deadline = time.monotonic() + SMOKE_PATIENCE_SECONDS
    while True:
        problem = _login_page_problem(url, headers)
        if problem is None:
            break
        if time.monotonic() > deadline:
            raise RetryableError(problem)
        time.sleep(0.5)
    ctx.log(f"{users} users on {move.target_name}; {ctx.tenant.primary_domain} answers")


def _login_page_problem(url, headers):
    try:
        response = requests.get(url, headers=headers, timeout=SMOKE_TIMEOUT, allow_redirects=False)
    except requests.ConnectionError:
        # No runtime listens there (none started, as in a benchmark): the
        # database check above is the move's; serving it is the runtime's.
        _logger.warning("no tenant runtime at %s: the login page was not asked", url)
        return None
    except requests.RequestException as exc:
        return f"the login page did not answer: {exc}"
    if response.status_code != 200 or 'name="login"' not in response.text:
        return f"the login page answered HTTP {response.status_code}"
    return None


def release_source(ctx):
    """The source is dropped now (no grace asked) or kept, closed and
    marked as moved, until its grace period ends (a cron drops it)."""
    move = move_of(ctx)
    code = ctx.tenant.code
    mark = pg.database_mark(move.source, ctx.database)
    if mark is None:
        ctx.log("the source is gone already")
        return
    if mark not in _marks(moved_mark(code)):
        raise PermanentError(f"{ctx.database} on {move.source_name} is not the moved source.")
    if move.grace_hours <= 0:
        drop_moved_source(move.source, ctx.database, code, _tenant_roles(ctx))
        ctx.log(f"dropped the source on {move.source_name}")
        return
    ctx.record("keep_moved_source", move.source_id, ctx.database, move.grace_hours)
    ctx.log(f"the source stays, closed, on {move.source_name} for {move.grace_hours:g} h")


MOVE_STEPS = (
    ("check_request", "Check the tenant and the target server", check_move),
    ("enter_maintenance", "Show the maintenance page", backup_steps.enter_maintenance),
    ("close_source", "Close the source to the tenant", close_source),
    ("copy_to_target", "Copy the database to the target server", copy_to_target),
    ("verify_copy", "Compare the copy with the source", verify_copy),
    ("switch", "Switch the tenant to the target server", switch_to_target),
    # From here the tenant's server is the target (the steps' ctx.server).
    ("create_bi_role", "Give the tenant its BI role there", operations.create_bi_role),
    ("create_schema", "Create the analytics schema there", operations.create_schema),
    ("superset_workspace", "Point the Superset workspace there", superset_workspace.provision_step),
    ("leave_maintenance", "Back in service", backup_steps.leave_maintenance),
    ("check_on_target", "Check it answers on the target server", check_on_target),
    ("release_source", "Drop or keep the source", release_source),
)


def moved_source_marks(ctx):
    """A run killed inside the switch leaves the source marked as moved
    while the tenant still names it: the steps may meet that database."""
    return frozenset(_marks(moved_mark(ctx.tenant.code)))


def undo_move(ctx):
    """Before the switch: the copy and what the target got go, the source
    is the tenant's again and open to it. After it, the tenant is served
    from the target and the source waits for its drop. Either way the
    maintenance ends."""
    move = of(ctx).move
    code = ctx.tenant.code
    if move is None or move.problem:
        ctx.log("nothing to undo: the move never started")
    elif move.current_id != move.source_id:
        ctx.log(f"{code} is served from {move.target_name}")
        # The source goes as it would have: now, or after its grace.
        release_source(ctx)
    else:
        if pg.database_mark(move.target, ctx.database) in _marks(moving_mark(code), ctx.mark):
            pg.drop_database(move.target, ctx.database)
            ctx.log(f"dropped the copy on {move.target_name}")
        if not pg.database_exists(move.target, ctx.database):
            for role in _tenant_roles(ctx):
                _drop_role_if_unused(move.target, role)
        if pg.database_mark(move.source, ctx.database) in _marks(moved_mark(code)):
            pg.mark_database(move.source, ctx.database, ctx.mark)
        if pg.database_exists(move.source, ctx.database):
            _set_connect(move.source, ctx.database, _tenant_roles(ctx), allowed=True)
            ctx.log(f"{ctx.database} is open to the tenant again on {move.source_name}")
    if ctx.tenant.state == lifecycle.MAINTENANCE:
        backup_steps.leave_maintenance(ctx)


# ------------------------------------------------------------------ parts


def drop_moved_source(server, database, code, roles):
    """Drop a source ``code`` has left, if it is still marked as moved, and
    the tenant's ``roles`` there when they own nothing else."""
    if pg.database_mark(server, database) not in _marks(moved_mark(code)):
        return False
    pg.drop_database(server, database)
    for role in roles:
        _drop_role_if_unused(server, role)
    return True


def table_counts(cr):
    cr.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    counts = {}
    for (table,) in cr.fetchall():
        cr.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("public", table)))
        counts[table] = cr.fetchone()[0]
    return counts


def sequences_behind(cr):
    """Sequences owned by a column whose next value would not be above the
    column's highest value (a copy that would fail its next insert)."""
    cr.execute(
        """SELECT s.relname, t.relname, a.attname
             FROM pg_class s
             JOIN pg_namespace n ON n.oid = s.relnamespace AND n.nspname = 'public'
             JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')
                             AND d.refclassid = 'pg_class'::regclass
             JOIN pg_class t ON t.oid = d.refobjid
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
            WHERE s.relkind = 'S'"""
    )
    behind = []
    for sequence, table, column in cr.fetchall():
        cr.execute(
            sql.SQL("SELECT (SELECT max({}) FROM {}), last_value, is_called FROM {}").format(
                sql.Identifier(column),
                sql.Identifier("public", table),
                sql.Identifier("public", sequence),
            )
        )
        highest, last_value, is_called = cr.fetchone()
        if highest is not None and (last_value if is_called else last_value - 1) < highest:
            behind.append(sequence)
    return behind


def _dump_folder(ctx):
    return os.path.join(of(ctx).backup_root, ctx.tenant.code, f"move-j{ctx.spec.id}.partial")


def _dump(server, database, folder):
    """``pg_dump`` of the schema public in directory format, ``COPY_JOBS``
    tables at a time, as the platform's role."""
    command = [
        "pg_dump",
        "-Fd",
        f"-j{COPY_JOBS}",
        "-Z1",
        "--schema=public",
        "-f",
        folder,
        *backups.connection_args(server),
        "-d",
        database,
    ]
    result = subprocess.run(
        command,
        env=backups.pg_env(server.password),
        capture_output=True,
        text=True,
        timeout=backups.RESTORE_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise RetryableError(f"pg_dump failed: {result.stderr.strip()[-500:]}")


def _set_connect(server, database, roles, allowed):
    verb = (
        "GRANT CONNECT ON DATABASE {} TO {}" if allowed else "REVOKE CONNECT ON DATABASE {} FROM {}"
    )
    for role in roles:
        if pg.role_exists(server, role):
            server.execute(sql.SQL(verb).format(sql.Identifier(database), sql.Identifier(role)))


def _tenant_roles(ctx):
    return tuple(role for role in (ctx.tenant.runtime_role, ctx.tenant.db_role) if role)


def _end_tenant_sessions(ctx, server):
    return sum(runtime_access.forget_role_sessions(server, role) for role in _tenant_roles(ctx))


def _drop_role_if_unused(server, role):
    """The tenant's role on a server where it has no database left; kept
    when it still owns something there (a refusal, not a failure)."""
    if not role or not pg.role_exists(server, role):
        return
    try:
        pg.drop_role(server, role)
    except psycopg2.Error:  # it owns objects elsewhere on that server: kept
        return
