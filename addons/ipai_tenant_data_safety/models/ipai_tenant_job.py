"""Data safety's job kinds on the engine's job: backup, restore, upgrade,
moves and imports (kinds.py), who may ask for them, what their spec carries and what their
steps record (the hooks below)."""

from odoo import api, fields, models
from odoo.addons.ipai_platform_rules import lifecycle
from odoo.addons.ipai_platform_rules.roles import ADMINISTER
from odoo.exceptions import AccessError, UserError

from ..provisioning.kinds import with_data_safety
from ..provisioning.spec import MoveSpec, SafetySpec

# Backup kinds a user may ask for; the others are the engine's own.
REQUESTED_BACKUP_KINDS = ("manual",)
# The job types data safety adds to the engine's.
JOB_TYPES = [
    ("upgrade", "Upgrade modules"),
    ("backup", "Backup"),
    ("restore", "Restore"),
    ("move_server", "Move to another server"),
    ("import", "Import an Odoo database"),
    ("export", "Export a backup as Odoo's zip"),
]
# Hours a moved tenant's old database is kept (closed to it) before its drop.
MOVE_GRACE_PARAM = "ipai_tenant_data_safety.move_grace_hours"
DEFAULT_MOVE_GRACE_HOURS = 24.0


class IpaiTenantJob(models.Model):
    _inherit = "ipai.tenant.job"

    job_type = fields.Selection(
        selection_add=JOB_TYPES,
        ondelete={
            "upgrade": "cascade",
            "backup": "cascade",
            "restore": "cascade",
            "move_server": "cascade",
            "import": "cascade",
            "export": "cascade",
        },
    )
    backup_path = fields.Char(readonly=True)
    backup_id = fields.Many2one(
        "ipai.tenant.backup",
        readonly=True,
        ondelete="set null",
        help="The backup this job took (a restore's safety backup, an upgrade's "
        "pre-upgrade backup).",
    )
    resume_state = fields.Char(
        readonly=True, help="Where the tenant goes back to after its maintenance."
    )
    rollback_error = fields.Text(
        readonly=True,
        help="Why the upgrade was rolled back to its pre-upgrade backup.",
    )
    upgrade_line_id = fields.Many2one(
        "ipai.tenant.upgrade.line", readonly=True, ondelete="set null", index="btree_not_null"
    )

    @api.model
    def _job_kinds(self):
        return with_data_safety(super()._job_kinds())

    # ------------------------------------------------------------- requests

    @api.model
    def _check_reach(self, tenant, job_type, params):
        result = super()._check_reach(tenant, job_type, params)
        requested_kind = params.get("kind", "manual")
        if (
            job_type == "backup"
            and not self.env.su
            and requested_kind not in REQUESTED_BACKUP_KINDS
        ):
            raise UserError(self.env._("Only manual backups can be requested."))
        if job_type == "upgrade" and not self.env.user.has_group(
            "ipai_tenant_core.group_platform_manager"
        ):
            raise AccessError(self.env._("Only platform managers upgrade tenants."))
        if job_type == "move_server" and not (
            self.env.su or self.env.user.has_group("ipai_tenant_core.group_platform_manager")
        ):
            raise AccessError(self.env._("Only platform managers move tenants between servers."))
        if job_type == "restore":
            self._check_restore_reach(tenant, params)
        if job_type == "export":
            self._check_export_reach(tenant, params)
        if job_type == "import" and (
            tenant.sudo().state != lifecycle.DRAFT or tenant.sudo().job_ids
        ):
            # Only into a tenant being made (ipai.tenant._import_odoo_backup).
            raise UserError(self.env._("An Odoo database is imported into a new tenant only."))
        return result

    @api.model
    def _check_export_reach(self, tenant, params):
        """All of a tenant's data leaves with an export (its users' password
        hashes included): its administrators and platform managers only, of
        a backup they may read, of that tenant."""
        tenant._check_power(ADMINISTER)
        backup = self.env["ipai.tenant.backup"].search(
            [("id", "=", int(params.get("backup_id") or 0))], limit=1
        )
        if not backup or backup.tenant_id != tenant:
            raise UserError(self.env._("You have no backup with that reference."))

    @api.model
    def _check_restore_reach(self, tenant, params):
        """The backup must be one the caller may read (its record rules:
        a provider's own subtree); restored in place only onto its tenant."""
        backup = self.env["ipai.tenant.backup"].search(
            [("id", "=", int(params.get("backup_id") or 0))], limit=1
        )
        if not backup:
            # Same answer whether it exists outside the caller's reach or not.
            raise UserError(self.env._("You have no backup with that reference."))
        if params.get("mode") not in ("new", "in_place"):
            raise UserError(self.env._("A restore goes into a new tenant or in place."))
        if params["mode"] == "in_place" and backup.tenant_id != tenant:
            raise UserError(self.env._("A backup is restored in place only onto its own tenant."))

    # ------------------------------------------------------------ the spec

    def _engine_spec_values(self):
        values = super()._engine_spec_values()
        backups = self.env["ipai.tenant.backup"]
        restore_backup = None
        if self.job_type in ("restore", "export"):
            backup = self._as_requester("ipai.tenant.backup").search(
                [("id", "=", int((self.params or {}).get("backup_id") or 0))], limit=1
            )
            if backup:
                restore_backup = backup.sudo()._engine_spec(self.tenant_id)
            else:
                values["missing_source"] = (
                    "The backup to restore does not exist; nothing was changed."
                )
        values["extra"] = SafetySpec(
            backup_root=backups._backup_root(),
            runtime_url=backups._runtime_url(),
            backup=self.backup_id._engine_spec(self.tenant_id) if self.backup_id else None,
            resume_state=self.resume_state or None,
            rollback_error=self.rollback_error or None,
            restore_backup=restore_backup,
            move=self._engine_move_spec() if self.job_type == "move_server" else None,
            import_limit=(
                self.tenant_id.plan_id._storage_bytes() if self.job_type == "import" else 0
            ),
        )
        return values

    def _engine_move_spec(self):
        """The move's servers as the engine connects to them; a server
        removed or archived since the request is the move's problem."""
        params = self.params or {}
        servers = self.env["ipai.tenant.server"].sudo()
        source = servers.browse(int(params.get("source_server_id") or 0)).exists()
        target = servers.browse(int(params.get("server_id") or 0)).exists()
        problem = None
        if not (source and target and target.active):
            problem = "The source or target server no longer exists; nothing was changed."
        grace = params.get("grace_hours")
        if grace is None:
            grace = float(
                self.env["ir.config_parameter"]
                .sudo()
                .get_param(MOVE_GRACE_PARAM, DEFAULT_MOVE_GRACE_HOURS)
            )
        return MoveSpec(
            source_id=source.id,
            source_name=source.name or "",
            target_id=target.id,
            target_name=target.name or "",
            current_id=self.tenant_id.server_id.id,
            grace_hours=max(float(grace), 0.0),
            source=source._pg_server() if source else None,
            target=target._pg_server() if target else None,
            problem=problem,
        )

    # -------------------------------------------------------- job's end

    def _failure_leaves_tenant_failed(self):
        # A failed backup changed nothing, and a restore or upgrade in place
        # that was undone is back in service: only what is left half-made
        # is marked failed.
        # A move that failed is undone (or, past its switch, served from
        # the target): the tenant stays in service either way.
        if self.job_type in ("backup", "move_server"):
            return False
        if self.job_type in ("restore", "upgrade") and self.tenant_id.state in (
            lifecycle.ACTIVE,
            lifecycle.SUSPENDED,
        ):
            return False
        return super()._failure_leaves_tenant_failed()

    def _engine_finish(self):
        result = super()._engine_finish()
        self._notify_upgrade_line()
        return result

    def _engine_fail(self, message, undo_lines):
        result = super()._engine_fail(message, undo_lines)
        self._notify_upgrade_line()
        return result

    def _notify_upgrade_line(self):
        """A fleet upgrade learns each of its tenants' outcome from the job's
        end, in the same transaction, and starts the next tenant."""
        if self.upgrade_line_id:
            self.upgrade_line_id._engine_job_ended(self)

    # ------------------------------------- outcome hooks (spec.Outcome.apply)

    def _engine_record_backup(self, kind, result, dump_path):
        backup = self.env["ipai.tenant.backup"]._record_backup(self.tenant_id, self, kind, result)
        self.write({"backup_id": backup.id, "backup_path": dump_path})

    def _engine_set_resume_state(self, state):
        self.resume_state = state

    def _engine_needs_rollback(self, message):
        self.rollback_error = message

    def _engine_set_server(self, server_id):
        """The tenant opens its database on ``server_id`` from this step's
        commit on (the routing version moves with it)."""
        self.tenant_id.sudo().server_id = server_id  # audited as every server change

    def _engine_keep_moved_source(self, server_id, database, grace_hours):
        self.env["ipai.tenant.moved.source"]._keep(self.tenant_id, server_id, database, grace_hours)
