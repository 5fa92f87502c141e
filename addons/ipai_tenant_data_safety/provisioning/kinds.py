"""Data safety's job kinds: backup, restore, upgrade, a move to another
database server, a backup written out as Odoo's zip, a customer's Odoo
database imported into a new tenant,
and the engine's archive with a backup first
(ipai.tenant.job._job_kinds adds them to the engine's own). The steps are
backup_steps.py's, moves.py's and the engine's."""

from odoo.addons.ipai_platform_rules import lifecycle
from odoo.addons.ipai_tenant_core.infra import pg
from odoo.addons.ipai_tenant_engine.provisioning import operations
from odoo.addons.ipai_tenant_engine.provisioning.kinds import JobKind, always

from . import backup_steps as steps
from . import exports, imports, moves

BACKUP_BEFORE_ARCHIVE = (
    "backup",
    "Back up database and filestore",
    steps.take_backup("pre_archive"),
)

_ROLLBACK_STEPS = tuple(
    (name, label, steps.only_on_rollback(function)) for name, label, function in steps.RESTORE_STEPS
)


def _restore_plan(params):
    return "restore_new" if params.get("mode") == "new" else "restore_in_place"


def _into_new_tenant(params):
    return _restore_plan(params) == "restore_new"


def _restoring_marks(ctx):
    """A database renamed into place but not marked yet (a run that died
    in between) is this tenant's restore."""
    return {pg.owner_mark(steps.restoring_mark(ctx.tenant.code))}


def _undo_restore(ctx):
    """A restore into a new tenant removes what it made; one in place puts
    the tenant's own database back and returns it to service."""
    if _into_new_tenant(ctx.params):
        if ctx.tenant.state != lifecycle.ACTIVE:
            # The scratch first: the tenant's role owns it, and goes last.
            steps.remove_scratch(ctx)
            operations.undo_partial_tenant(ctx)
    else:
        steps.undo_in_place(ctx)


KINDS = {
    kind.name: kind
    for kind in (
        JobKind(
            "backup",
            {"backup": (("backup", "Back up database and filestore", steps.take_backup()),)},
            params=frozenset({"kind"}),
        ),
        JobKind(
            "restore",
            {
                "restore_new": (
                    ("check_request", "Check the request", operations.check_request),
                    ("verify_backup", "Verify the backup's checksums", steps.verify_backup),
                    *steps.RESTORE_STEPS,
                    ("create_bi_role", "Give the tenant its BI role", operations.create_bi_role),
                    *operations.MAKE_IT_ITS_OWN,
                    ("activate", "Activate the tenant", operations.final_state(lifecycle.ACTIVE)),
                ),
                "restore_in_place": (
                    ("verify_backup", "Verify the backup's checksums", steps.verify_backup),
                    (
                        "backup",
                        "Safety backup of the current data",
                        steps.take_backup("pre_restore"),
                    ),
                    ("enter_maintenance", "Show the maintenance page", steps.enter_maintenance),
                    *steps.RESTORE_STEPS,
                    *operations.ANALYTICS,
                    ("leave_maintenance", "Back in service", steps.leave_maintenance),
                    # After: a backup taken while suspended says "suspended"
                    # inside; the state pushed is the one the tenant is back in.
                    ("configure_tenant", "Push plan and settings", operations.configure_tenant),
                ),
            },
            params=frozenset({"backup_id", "mode"}),
            choose=_restore_plan,
            makes_database=_into_new_tenant,
            copies_data=_into_new_tenant,
            undo=_undo_restore,
            extra_marks=_restoring_marks,
        ),
        JobKind(
            "export",
            {"export": (("export", "Write Odoo's backup zip", exports.export_step),)},
            params=frozenset({"backup_id"}),
        ),
        JobKind(
            "import",
            {
                "import": (
                    ("check_request", "Check the request", operations.check_request),
                    ("check_upload", "Check the Odoo backup", imports.check_upload),
                    ("load_scratch", "Load it as the tenant's role", imports.load_scratch),
                    ("swap_in", "Put the loaded database in place", steps.swap_in),
                    ("check_loaded", "Check what the database holds", imports.check_loaded),
                    ("create_bi_role", "Give the tenant its BI role", operations.create_bi_role),
                    (
                        "forget_source_secrets",
                        "Leave the source's credentials out",
                        imports.forget_source_secrets,
                    ),
                    (
                        "install_platform_modules",
                        "Install the platform's tenant modules",
                        operations.install_plan_modules,
                    ),
                    *operations.OWN_IDENTITY,
                    ("activate", "Activate the tenant", operations.activate_new_tenant),
                    ("remove_upload", "Remove the uploaded file", imports.remove_uploaded),
                )
            },
            params=frozenset({"upload", "sha256"}),
            makes_database=always,
            copies_data=always,
            undo=imports.undo_import,
            extra_marks=_restoring_marks,
        ),
        JobKind(
            "upgrade",
            {
                "upgrade": (
                    ("backup", "Back up before the upgrade", steps.take_backup("pre_upgrade")),
                    ("enter_maintenance", "Show the maintenance page", steps.enter_maintenance),
                    ("upgrade_modules", "Update the modules", steps.upgrade_modules),
                    ("smoke_check", "Check the login page answers", steps.smoke_check),
                    *_ROLLBACK_STEPS,
                    ("leave_maintenance", "Back in service", steps.leave_maintenance),
                    # After: the state pushed is the one the tenant is back in.
                    ("configure_tenant", "Push plan and settings", operations.configure_tenant),
                )
            },
            params=frozenset({"modules"}),
            undo=steps.undo_in_place,
            extra_marks=_restoring_marks,
        ),
        JobKind(
            "move_server",
            {"move_server": moves.MOVE_STEPS},
            params=frozenset({"server_id", "source_server_id", "grace_hours"}),
            undo=moves.undo_move,
            extra_marks=moves.moved_source_marks,
        ),
    )
}


def with_data_safety(engine_kinds):
    """The engine's kinds and data safety's; an archive backs up first."""
    return {
        **engine_kinds,
        **KINDS,
        "archive": engine_kinds["archive"].with_steps_first(BACKUP_BEFORE_ARCHIVE),
    }
