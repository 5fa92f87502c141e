import logging
import os
import random
from datetime import timedelta

from dateutil.relativedelta import relativedelta
from odoo import api, fields, models
from odoo.addons.ipai_platform_rules import jobs, lifecycle
from odoo.addons.ipai_platform_rules.roles import ADMINISTER
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError
from odoo.exceptions import UserError
from odoo.tools import config

from ..provisioning import backups, exports, restore_check, retention
from ..provisioning.spec import BackupSpec

_logger = logging.getLogger(__name__)

BACKUP_KINDS = [
    ("scheduled", "Scheduled"),
    ("manual", "Manual"),
    ("pre_upgrade", "Before an upgrade"),
    ("pre_archive", "Before archiving"),
    ("pre_restore", "Before a restore"),
]
TEST_STATES = [("untested", "Not tested"), ("passed", "Restore test passed"), ("failed", "Failed")]
BACKUP_ROOT_PARAM = "ipai_tenant_core.backup_root"
ARCHIVED_MONTHS_PARAM = "ipai_tenant_core.archived_backup_months"
DEFAULT_ARCHIVED_MONTHS = 12
MANUAL_DAYS_PARAM = "ipai_tenant_core.manual_backup_days"
DEFAULT_MANUAL_DAYS = 90
RUNTIME_URL_PARAM = "ipai_tenant_core.runtime_url"
RESTORE_TEST_DAYS_PARAM = "ipai_tenant_core.restore_test_days"
DEFAULT_RESTORE_TEST_DAYS = 7


class IpaiTenantBackup(models.Model):
    """A complete backup of one tenant, written by the engine: nobody
    creates, writes or deletes these records but the engine (no group has
    the right), and retention prunes the files and the record together."""

    _name = "ipai.tenant.backup"
    _description = "Tenant backup"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "backup_date desc, id desc"

    name = fields.Char(compute="_compute_name", store=True)
    tenant_id = fields.Many2one("ipai.tenant", required=True, ondelete="restrict", index=True)
    kind = fields.Selection(BACKUP_KINDS, required=True)
    backup_date = fields.Datetime(string="Taken at", required=True, index=True)
    job_id = fields.Many2one("ipai.tenant.job", ondelete="set null")
    folder = fields.Char(required=True, help="Under the backup root.")
    dump_size = fields.Integer(string="Database (bytes)")
    dump_sha256 = fields.Char(string="Database sha256", required=True)
    filestore_size = fields.Integer(string="Files (bytes)")
    filestore_sha256 = fields.Char(string="Files sha256", required=True)
    size_mb = fields.Float(string="Size (MB)", compute="_compute_size_mb", digits=(16, 1))
    row_counts = fields.Json(help="Rows of key tables in the snapshot the dump was taken from.")
    test_state = fields.Selection(TEST_STATES, default="untested", required=True)
    test_date = fields.Datetime(string="Tested at")
    test_message = fields.Text(string="Restore test result")

    @api.depends("tenant_id.code", "backup_date", "kind")
    def _compute_name(self):
        for backup in self:
            stamp = fields.Datetime.to_string(backup.backup_date) if backup.backup_date else ""
            backup.name = f"{backup.tenant_id.code or ''} {stamp} ({backup.kind or ''})".strip()

    @api.depends("dump_size", "filestore_size")
    def _compute_size_mb(self):
        for backup in self:
            backup.size_mb = (backup.dump_size + backup.filestore_size) / 1024 / 1024

    # ---------------------------------------------------------- settings

    @api.model
    def _backup_root(self):
        """Where backups are written: the ``backup_root`` setting (a mounted
        volume in production), else ``<data_dir>/backups``."""
        value = self.env["ir.config_parameter"].sudo().get_param(BACKUP_ROOT_PARAM)
        return value or f"{config['data_dir']}/backups"

    @api.model
    def _runtime_url(self):
        """How the control plane reaches the tenant runtime (smoke checks)."""
        value = self.env["ir.config_parameter"].sudo().get_param(RUNTIME_URL_PARAM)
        port = config.get("ipai_tenant_http_port") or 8070
        return (value or f"http://127.0.0.1:{port}").rstrip("/")

    @api.model
    def _int_param(self, key, default):
        value = self.env["ir.config_parameter"].sudo().get_param(key)
        try:
            return int(value) if value else default
        except ValueError:
            return default

    # ------------------------------------------------------------ engine

    @api.model
    def _record_backup(self, tenant, job, kind, result):
        return self.sudo().create(
            {
                "tenant_id": tenant.id,
                "kind": kind,
                "backup_date": fields.Datetime.now(),
                "job_id": job.id,
                "folder": result["folder"],
                "dump_size": result["dump_size"],
                "dump_sha256": result["dump_sha256"],
                "filestore_size": result["filestore_size"],
                "filestore_sha256": result["filestore_sha256"],
                "row_counts": result["row_counts"],
            }
        )

    def _engine_spec(self, tenant):
        """What the engine knows of this backup, for ``tenant``'s job."""
        self.ensure_one()
        source = self.tenant_id
        return BackupSpec(
            id=self.id,
            name=self.name,
            folder=self.folder,
            dump_sha256=self.dump_sha256,
            filestore_sha256=self.filestore_sha256,
            tenant_code=source.code,
            of_this_tenant=source == tenant,
            allowed_modules=tuple(source._allowed_module_names()) if source else (),
        )

    def _check_files(self):
        """The files are there and match their checksums, or a clear error:
        asked before a restore is even queued (the engine checks again)."""
        self.ensure_one()
        try:
            backups.verify(self.folder, self.dump_sha256, self.filestore_sha256)
        except PermanentError as exc:
            raise UserError(str(exc)) from exc

    def _restore(self, mode="in_place", code=None, name=None):
        """Replay this backup over its tenant (``in_place``) or into a new
        tenant ``code`` (``new``): a restore job is queued; returns the
        tenant it restores. The forms, the API and the CLI all come here."""
        self.ensure_one()
        # Whatever id was sent: the caller must be able to read the backup.
        self.check_access("read")
        self._check_files()
        source = self.tenant_id
        if mode == "in_place":
            source._ensure_action_allowed("restore", self.env._("Restoring"))
            self.env["ipai.tenant.job"]._enqueue(
                source, "restore", {"backup_id": self.id, "mode": "in_place"}
            )
            return source
        if not code:
            raise UserError(self.env._("Give the new tenant a code."))
        problem = self.env["ipai.tenant"]._new_code_problem(code)
        if problem:
            raise UserError(problem)
        tenant = self.env["ipai.tenant"].create(
            {
                "code": code,
                "name": name or code,
                "tenant_type": source._copy_type(),
                "parent_id": source.parent_id.id,
                "plan_id": source.plan_id.id,
                "admin_email": source.admin_email,
            }
        )
        self.env["ipai.tenant.job"]._enqueue(
            tenant, "restore", {"backup_id": self.id, "mode": "new"}
        )
        tenant._set_state_from_engine(lifecycle.PROVISIONING)
        return tenant

    def _request_export(self):
        """Queue this backup's export as Odoo's own backup zip (an export
        job, provisioning/exports.py) unless it is written already; returns
        the job, or no job when the zip is ready. All of a tenant's data
        (its users' password hashes included) leaves with it: the tenant's
        administrators and platform managers only, and audited. The forms'
        neighbours, the API and the CLI all come here."""
        self.ensure_one()
        self._check_files()
        tenant = self.tenant_id
        tenant._audit("backup:export", {"backup": (False, self.name)})
        if self._export_file():
            return self.env["ipai.tenant.job"]
        return self.env["ipai.tenant.job"]._enqueue(tenant, "export", {"backup_id": self.id})

    def _export_file(self):
        """The path of this backup's Odoo zip once its export wrote it, else
        None; asking is the tenant administrator's power, whatever id was
        sent."""
        self.ensure_one()
        self.check_access("read")
        self.tenant_id._check_power(ADMINISTER)
        path = exports.export_path(self.folder)
        return path if os.path.isfile(path) else None

    def _remove(self):
        """Files first, then the record: a crash in between leaves a record
        whose files are gone, which the next prune removes again."""
        for backup in self:
            backups.remove(backup.folder)
            backup.tenant_id._audit("backup:pruned", {"backup": (backup.name, False)})
        self.sudo().unlink()

    # ------------------------------------------------------------ actions

    def action_restore(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Restore %s", self.name),
            "res_model": "ipai.tenant.restore",
            "view_mode": "form",
            "target": "new",
            "context": {"default_backup_id": self.id},
        }

    # -------------------------------------------------------------- crons

    @api.model
    def _cron_schedule_backups(self, limit=20):
        """Queue scheduled backups of the tenants that are due (their plan's
        interval passed since their last backup), the longest-waiting first
        and at most ``limit`` per call: the cron's frequent calls spread the
        fleet's backups over the day instead of starting all at midnight."""
        now = fields.Datetime.now()
        due = []
        tenants = self.env["ipai.tenant"].search(
            [
                ("state", "in", (lifecycle.ACTIVE, lifecycle.SUSPENDED)),
                ("plan_id.backup_interval_hours", ">", 0),
            ]
        )
        last = dict(
            self._read_group(
                [("tenant_id", "in", tenants.ids)],
                groupby=["tenant_id"],
                aggregates=["backup_date:max"],
            )
        )
        for tenant in tenants:
            previous = last.get(tenant)
            interval = timedelta(hours=tenant.plan_id.backup_interval_hours)
            if not previous or previous + interval <= now:
                due.append((previous or fields.Datetime.to_datetime("1970-01-01"), tenant))
        busy = (
            self.env["ipai.tenant.job"]
            .search([("tenant_id", "in", tenants.ids), ("state", "in", jobs.OPEN_STATES)])
            .tenant_id
        )
        queued = 0
        for _previous, tenant in sorted(due, key=lambda item: item[0]):
            if queued >= limit:
                break
            if tenant in busy:
                continue  # its open job comes first; the next call takes it
            # The engine's own kind of backup: queued with its rights.
            self.env["ipai.tenant.job"].sudo()._enqueue(tenant, "backup", {"kind": "scheduled"})
            queued += 1
        self.env["ir.cron"]._notify_progress(done=queued, remaining=max(len(due) - queued, 0))
        return queued

    @api.model
    def _cron_prune_backups(self, limit=500, now=None):
        """The daily cron: ``_prune_backups``, counted."""
        return len(self._prune_backups(limit=limit, now=now))

    @api.model
    def _prune_backups(self, limit=500, now=None):
        """Apply each tenant's retention: its plan's grandfather-father-son
        counts while it lives, the ``archived_backup_months`` setting once it
        is archived; manual backups by their own rule (``manual_backup_days``,
        retention.manual_kept). Files and records go together. Returns the
        ``(id, name)`` of each backup removed. ``now``: for tests."""
        now = now or fields.Datetime.now()
        months = self._int_param(ARCHIVED_MONTHS_PARAM, DEFAULT_ARCHIVED_MONTHS)
        manual_days = max(self._int_param(MANUAL_DAYS_PARAM, DEFAULT_MANUAL_DAYS), 0)
        in_use = self.env["ipai.tenant.job"].search([("state", "in", jobs.OPEN_STATES)])
        protected = in_use.backup_id | self.browse(
            [int(job.params.get("backup_id") or 0) for job in in_use if job.params]
        )
        doomed = self.browse()
        for (tenant,) in self._read_group([], groupby=["tenant_id"]):
            backups_of = self.search([("tenant_id", "=", tenant.id)])
            manual = backups_of.filtered(lambda b: b.kind == "manual")
            automatic = backups_of - manual
            archived_since = None
            if tenant.state == lifecycle.ARCHIVED:
                archived_since = now - relativedelta(months=months)
                doomed |= automatic.filtered(lambda b, d=archived_since: b.backup_date < d)
            else:
                plan = tenant.plan_id
                kept = retention.to_keep(
                    [(backup.id, backup.backup_date) for backup in automatic],
                    now,
                    daily=plan.backup_keep_daily,
                    weekly=plan.backup_keep_weekly,
                    monthly=plan.backup_keep_monthly,
                )
                doomed |= automatic.filtered(lambda b, k=kept: b.id not in k)
            doomed |= manual.filtered(
                lambda b, a=archived_since: (
                    not retention.manual_kept(b.backup_date, now, manual_days, a)
                )
            )
        doomed = (doomed - protected)[:limit]
        pruned = [(backup.id, backup.name) for backup in doomed]
        doomed._remove()
        return pruned

    @api.model
    def _cron_test_restore(self):
        """Restore one random recent backup into a scratch database, load its
        registry in a separate Odoo, compare the key tables' row counts with
        those recorded at backup time, drop it; the result is kept on the
        backup and a failure is put before every platform manager."""
        since = fields.Datetime.now() - timedelta(
            days=self._int_param(RESTORE_TEST_DAYS_PARAM, DEFAULT_RESTORE_TEST_DAYS)
        )
        candidates = self.search([("backup_date", ">=", since)])
        untested = candidates.filtered(lambda b: b.test_state == "untested")
        pool = untested or candidates
        if not pool:
            return False
        backup = random.choice(pool)
        backup._test_restore()
        return backup

    def _test_restore(self):
        self.ensure_one()
        tenants = self.env["ipai.tenant"]
        database_prefix, role_prefix = tenants._name_prefixes()
        server = self.tenant_id.server_id or tenants.env["ipai.tenant.server"]._default_server()
        lines = []
        try:
            restore_check.run(
                server._pg_server(),
                role=f"{role_prefix}restore_check",
                scratch=f"{database_prefix}restore_check_{self.id}",
                folder=self.folder,
                dump_sha256=self.dump_sha256,
                filestore_sha256=self.filestore_sha256,
                expected_counts=self.row_counts or {},
                log=lines.append,
            )
            state = "passed"
        except Exception as exc:  # the result is recorded, whatever failed
            _logger.warning("restore test of backup %s failed", self.name, exc_info=True)
            lines.append(str(exc) or exc.__class__.__name__)
            state = "failed"
        self.sudo().write(
            {
                "test_state": state,
                "test_date": fields.Datetime.now(),
                "test_message": "\n".join(lines),
            }
        )
        if state == "failed":
            self._notify_platform_managers(lines[-1])
        return state

    def _notify_platform_managers(self, reason):
        group = self.env.ref("ipai_tenant_core.group_platform_manager")
        managers = group.sudo().users.filtered(
            lambda user: not user._is_superuser() and user.active
        )
        for user in managers:
            self.sudo().activity_schedule(
                "mail.mail_activity_data_todo",
                user_id=user.id,
                summary=self.env._("Restore test failed: %s", self.name),
                note=reason,
            )
