"""What data safety adds to a job's spec (``JobSpec.extra``), frozen as the
spec is: the backup a job took, the one it restores, the state its tenant
returns to after a maintenance, why an upgrade rolls back, and the
platform's settings its steps need.
"""

from dataclasses import dataclass, field

from odoo.addons.ipai_tenant_core.infra import pg
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError


@dataclass(frozen=True)
class BackupSpec:
    id: int
    name: str
    folder: str
    dump_sha256: str
    filestore_sha256: str
    tenant_code: str
    # Whether it is a backup of the job's own tenant.
    of_this_tenant: bool
    # What the backed-up tenant may load (kept by a tenant restored from it).
    allowed_modules: tuple = ()


@dataclass(frozen=True)
class MoveSpec:
    """A move's two servers, as the engine connects to them, and where the
    tenant is now (its server when the step started)."""

    source_id: int
    source_name: str
    target_id: int
    target_name: str
    current_id: int
    grace_hours: float
    source: pg.Server | None = field(default=None, repr=False)
    target: pg.Server | None = field(default=None, repr=False)
    # Why the move cannot go on (a server archived since the request).
    problem: str | None = None


@dataclass(frozen=True)
class SafetySpec:
    # Where backups are kept, and where a smoke check reaches the runtime.
    backup_root: str = ""
    runtime_url: str = ""
    # The backup this job took (a restore's safety backup, an upgrade's
    # pre-upgrade backup), once taken.
    backup: BackupSpec | None = None
    resume_state: str | None = None
    rollback_error: str | None = None
    # A restore's backup, looked up as the job's requester may see it.
    restore_backup: BackupSpec | None = None
    # A move to another database server.
    move: MoveSpec | None = None
    # An import's limit: the tenant's plan's storage, in bytes.
    import_limit: int = 0


def of(ctx):
    """The data-safety part of a step's spec."""
    return ctx.spec.extra or SafetySpec()


def source_backup(ctx):
    """The backup a restore replays (an export writes out), or the reason
    there is none."""
    backup = of(ctx).restore_backup
    if backup is None:
        raise PermanentError(ctx.spec.missing_source or "This job has no backup to restore.")
    return backup
