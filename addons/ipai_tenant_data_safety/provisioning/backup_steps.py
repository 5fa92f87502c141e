"""The steps of backups, restores and upgrades (their plans: kinds.py).

A restore never works on the tenant's database itself: the backup is
replayed into a scratch database (``<database>_restoring``), which is
renamed into place once complete; the database it replaces steps aside
(``<database>_replaced``) and is dropped by a later step. Each rename is
checked against what exists, so a run killed at any point resumes, or is
undone, without anything half-made: the tenant's database is always either
its old one or the complete restored one.
"""

import hashlib
import os

import requests
from odoo.addons.ipai_platform_rules import lifecycle
from odoo.addons.ipai_tenant_core.infra import pg
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError
from odoo.addons.ipai_tenant_engine.provisioning import filestore, operations, runtime_access
from odoo.addons.ipai_tenant_engine.provisioning.faults import failpoint
from odoo.addons.ipai_tenant_runtime import credentials

from . import backups
from .spec import of, source_backup

SMOKE_TIMEOUT = 120
MAX_NAME_BYTES = 63


def restoring_mark(code):
    return f"restoring:tenant:{code}"


def replaced_mark(code):
    return f"replaced:tenant:{code}"


def _beside(database, suffix):
    """``database`` + ``suffix``, shortened (with a hash of the full name)
    to PostgreSQL's 63 bytes, which would otherwise truncate it silently."""
    name = f"{database}{suffix}"
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    digest = hashlib.sha256(database.encode()).hexdigest()[:8]
    keep = MAX_NAME_BYTES - len(suffix) - len(digest) - 1
    return f"{database.encode()[:keep].decode(errors='ignore')}_{digest}{suffix}"


def scratch_name(database):
    return _beside(database, "_restoring")


def replaced_name(database):
    return _beside(database, "_replaced")


# ---------------------------------------------------------------- backups


def take_backup(kind=None):
    """A step writing a backup of the tenant (``kind``, else the job's
    ``kind`` parameter, else a manual one) and its record."""

    def step(ctx):
        taken = of(ctx).backup
        if taken:
            ctx.log(f"backup {taken.name} already taken")
            return
        this_kind = kind or ctx.params.get("kind") or "manual"
        folder = os.path.join(
            of(ctx).backup_root, ctx.tenant.code, f"{ctx.spec.stamp}-{this_kind}-j{ctx.spec.id}"
        )
        result = backups.take(
            ctx.server, ctx.as_tenant, ctx.database, filestore.path(ctx.database), folder
        )
        ctx.record("record_backup", this_kind, result, os.path.join(folder, backups.DUMP_FILE))
        ctx.log(
            f"backup written to {folder} (database {result['dump_size']} bytes, "
            f"files {result['filestore_size']} bytes)"
        )

    step.__name__ = f"take_backup_{kind or 'requested'}"
    return step


def restore_source(ctx):
    """The backup a restore replays: the pre-upgrade backup of an upgrade's
    rollback, else the requested one as the job's requester may see it (a
    backup outside the requester's reach does not exist for the engine, nor
    in its spec)."""
    if ctx.spec.job_type == "upgrade":
        if not of(ctx).backup:
            raise PermanentError("No pre-upgrade backup to roll back to.")
        return of(ctx).backup
    source = source_backup(ctx)
    if ctx.params.get("mode") != "new" and not source.of_this_tenant:
        raise PermanentError(
            f"Backup {source.name} is not one of {ctx.tenant.code}'s; nothing was changed."
        )
    return source


def verify_backup(ctx):
    source = restore_source(ctx)
    backups.verify(source.folder, source.dump_sha256, source.filestore_sha256)
    ctx.log(f"backup {source.name}: both files match their sha256")
    if not source.of_this_tenant:
        # The copy holds what the backed-up tenant had installed.
        ctx.record("keep_modules", list(source.allowed_modules))


# ----------------------------------------------------------------- upgrade


def upgrade_modules(ctx):
    """``-u`` of the run's modules (else the tenant's module set) as the
    tenant's own role. A failure is not the job's: it is recorded, and the
    rollback steps that follow restore the pre-upgrade backup."""
    modules = ctx.params.get("modules") or list(ctx.tenant.modules)
    try:
        operations.run_modules(ctx, modules, update=True)
    except PermanentError as exc:
        ctx.record("needs_rollback", str(exc))
        ctx.log(f"updating {', '.join(modules)} failed; rolling back:\n{exc}")
        return
    ctx.log(f"updated {', '.join(modules)}")


# ------------------------------------------------------------- maintenance


def enter_maintenance(ctx):
    if ctx.tenant.state != lifecycle.MAINTENANCE:
        ctx.record("set_resume_state", ctx.tenant.state)
        ctx.record("set_state", lifecycle.MAINTENANCE)
    ctx.log("the tenant runtime shows the maintenance page")


def leave_maintenance(ctx):
    state = of(ctx).resume_state or lifecycle.ACTIVE
    ctx.record("set_state", state)
    ctx.log(f"tenant is {state} again")


def login_page_request(ctx):
    """The URL and headers of the tenant's login page asked through the
    runtime as a browser would (its host name), with the token that lets the
    platform past the maintenance page."""
    headers = {
        "Host": ctx.tenant.primary_domain,
        credentials.SMOKE_CHECK_HEADER: credentials.smoke_check_token(
            ctx.database, ctx.tenant.cell
        ),
    }
    return of(ctx).runtime_url + "/web/login", headers


def smoke_check(ctx):
    """The login page, asked through the tenant runtime as a browser would
    (the tenant's host name) with the token that lets the platform past the
    maintenance page: the runtime loads the upgraded registry to answer."""
    if of(ctx).rollback_error:
        ctx.skip("the upgrade failed")
        return
    url, headers = login_page_request(ctx)
    try:
        response = requests.get(url, headers=headers, timeout=SMOKE_TIMEOUT, allow_redirects=False)
        problem = None
        if response.status_code != 200 or 'name="login"' not in response.text:
            problem = f"the login page answered HTTP {response.status_code}"
    except requests.RequestException as exc:
        problem = f"the login page did not answer: {exc}"
    if problem:
        ctx.record("needs_rollback", f"Smoke check failed: {problem}")
        ctx.log(f"{problem}; rolling back")
        return
    ctx.log(f"{ctx.tenant.primary_domain}/web/login answers through the tenant runtime")


def only_on_rollback(function):
    """A restore step that an upgrade runs only when it failed."""

    def step(ctx):
        if not of(ctx).rollback_error:
            ctx.skip("the upgrade went through: nothing to roll back")
            return
        function(ctx)

    step.__name__ = f"rollback_{function.__name__}"
    return step


# ----------------------------------------------------------------- restore


def _replaced_marks(ctx):
    # The tenant's own mark too: a run may die between the rename and the mark.
    return (replaced_mark(ctx.tenant.code), ctx.mark)


def drop_if_ours(ctx, name, *marks):
    current = pg.database_mark(ctx.server, name)
    if current is None:
        return False
    if current not in {pg.owner_mark(mark) for mark in marks}:
        raise PermanentError(f"A database named {name} exists and is not this restore's.")
    pg.drop_database(ctx.server, name)
    return True


def restore_scratch(ctx):
    """The backup replayed by the tenant's own role into a scratch database,
    and its files unpacked beside it; a leftover of an interrupted run is
    dropped first. The checksums are checked again right before use."""
    source = restore_source(ctx)
    backups.verify(source.folder, source.dump_sha256, source.filestore_sha256)
    scratch = scratch_name(ctx.database)
    if drop_if_ours(ctx, scratch, restoring_mark(ctx.tenant.code)):
        ctx.log(f"dropped {scratch}, left by an interrupted run")
    filestore.remove(scratch)
    role = ctx.tenant.runtime_role
    runtime_access.ensure_owned_role(ctx.server, role, ctx.tenant.cell)
    backups.restore_database(
        ctx.server,
        role,
        scratch,
        os.path.join(source.folder, backups.DUMP_FILE),
        restoring_mark(ctx.tenant.code),
        ctx.tenant.cell,
    )
    failpoint("during", "restore_scratch")  # the database replayed, its files not yet
    backups.extract_filestore(
        os.path.join(source.folder, backups.FILESTORE_FILE), filestore.path(scratch)
    )
    ctx.log(f"backup {source.name} restored into {scratch} by {role}")


def swap_in(ctx):
    """The restored database and files take the tenant's names; what was
    there steps aside. Each rename is checked first, so a rerun continues."""
    database, scratch = ctx.database, scratch_name(ctx.database)
    replaced = replaced_name(database)
    code = ctx.tenant.code
    if pg.database_exists(ctx.server, scratch):
        if pg.database_exists(ctx.server, database):
            if pg.database_exists(ctx.server, replaced):
                raise PermanentError(f"{replaced} is in the way; nothing was changed.")
            pg.rename_database(ctx.server, database, replaced)
            pg.mark_database(ctx.server, replaced, replaced_mark(code))
            ctx.log(f"{database} stepped aside as {replaced}")
        pg.rename_database(ctx.server, scratch, database)
    pg.mark_database(ctx.server, database, ctx.mark)
    if os.path.isdir(filestore.path(scratch)):
        if os.path.isdir(filestore.path(database)):
            filestore.remove(replaced)
            filestore.move(database, replaced)
        filestore.move(scratch, database)
    old = (
        backups.signaling_values(ctx.as_tenant, replaced)
        if pg.database_exists(ctx.server, replaced)
        else {}
    )
    backups.bump_signaling(ctx.as_tenant, database, old)
    ctx.log(f"the restored database and files are {database}'s")


def drop_replaced(ctx):
    replaced = replaced_name(ctx.database)
    if drop_if_ours(ctx, replaced, *_replaced_marks(ctx)):
        ctx.log(f"dropped the replaced database {replaced}")
    else:
        ctx.log("no replaced database to drop")
    filestore.remove(replaced)


RESTORE_STEPS = [
    ("restore_scratch", "Restore the backup beside the database", restore_scratch),
    ("swap_in", "Put the restored database in place", swap_in),
    ("drop_replaced", "Drop the replaced database", drop_replaced),
]


# -------------------------------------------------------------------- undo


def remove_scratch(ctx):
    scratch = scratch_name(ctx.database)
    if drop_if_ours(ctx, scratch, restoring_mark(ctx.tenant.code)):
        ctx.log(f"removed the partial restore {scratch}")
    filestore.remove(scratch)


def undo_in_place(ctx):
    """After a permanent failure of a restore or upgrade in place: the
    tenant's own database back under its name (the restored one if it was
    complete and in place already), no scratch left, back in service."""
    database, replaced = ctx.database, replaced_name(ctx.database)
    replaced_is_ours = pg.database_mark(ctx.server, replaced) in {
        pg.owner_mark(mark) for mark in _replaced_marks(ctx)
    }
    if replaced_is_ours and not pg.database_exists(ctx.server, database):
        pg.rename_database(ctx.server, replaced, database)
        pg.mark_database(ctx.server, database, ctx.mark)
        ctx.log(f"put {replaced} back as {database}")
    elif replaced_is_ours:
        pg.drop_database(ctx.server, replaced)
        ctx.log(f"{database} is the complete restored database; dropped {replaced}")
    if os.path.isdir(filestore.path(replaced)):
        if os.path.isdir(filestore.path(database)):
            filestore.remove(replaced)
        else:
            filestore.move(replaced, database)
    remove_scratch(ctx)
    if ctx.tenant.state == lifecycle.MAINTENANCE:
        leave_maintenance(ctx)
