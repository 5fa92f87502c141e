import json
import os
from datetime import timedelta

from odoo import api, fields, models
from odoo.addons.ipai_platform_rules import jobs, lifecycle, naming
from odoo.addons.ipai_platform_rules.roles import OPERATE
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError
from odoo.exceptions import UserError
from odoo.tools import config

from ..provisioning import operations, runner
from ..provisioning.spec import JobSpec

JOB_TYPES = [
    ("create", "Create"),
    ("clone", "Clone"),
    ("suspend", "Suspend"),
    ("reactivate", "Reactivate"),
    ("archive", "Archive"),
    ("drop", "Drop"),
    ("change_plan", "Change plan"),
    ("move_cell", "Move to another cell"),
]
JOB_STATES = jobs.STATES
OPEN_STATES = jobs.OPEN_STATES
# Threads of a cron call of the job runner (a system parameter).
RUNNER_CONCURRENCY_PARAM = "ipai_tenant_core.runner_concurrency"


class IpaiTenantJob(models.Model):
    _name = "ipai.tenant.job"
    _description = "Tenant provisioning job"
    _order = "id desc"

    name = fields.Char(compute="_compute_name", store=True)
    tenant_id = fields.Many2one("ipai.tenant", required=True, ondelete="cascade", index=True)
    job_type = fields.Selection(JOB_TYPES, string="Type", required=True)
    state = fields.Selection(JOB_STATES, default="queued", required=True, index=True)
    requested_by_id = fields.Many2one(
        "res.users", default=lambda self: self.env.user, readonly=True
    )
    params = fields.Json(help="Operation parameters, e.g. the source tenant of a clone.")
    step_ids = fields.One2many("ipai.tenant.job.step", "job_id", string="Steps")
    progress = fields.Float(compute="_compute_progress")
    is_busy = fields.Boolean(compute="_compute_progress", help="Queued or running.")
    current_step = fields.Char(compute="_compute_progress")
    attempts = fields.Integer(readonly=True)
    max_attempts = fields.Integer(default=5, readonly=True)
    next_retry_at = fields.Datetime(readonly=True)
    error = fields.Text(readonly=True)
    template_id = fields.Many2one("ipai.tenant.template", readonly=True)
    pool_member_id = fields.Many2one(
        "ipai.tenant.pool.member",
        readonly=True,
        ondelete="set null",
        help="The warm-pool database this create job adopts.",
    )
    date_started = fields.Datetime(readonly=True)
    date_finished = fields.Datetime(readonly=True)
    duration = fields.Float(string="Duration (s)", readonly=True, digits=(16, 2))

    # At most one open job per tenant, enforced by PostgreSQL itself so two
    # concurrent requests cannot both slip through.
    def init(self):
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS ipai_tenant_job_one_open_per_tenant
                ON ipai_tenant_job (tenant_id) WHERE state IN ('queued', 'running')
            """
        )

    @api.depends("job_type", "tenant_id.code")
    def _compute_name(self):
        labels = dict(self._fields["job_type"].selection)
        for job in self:
            job.name = f"{labels.get(job.job_type, '')} {job.tenant_id.code or ''}".strip()

    @api.depends("step_ids.state")
    def _compute_progress(self):
        for job in self:
            steps = job.step_ids.sorted("sequence")
            done = len(steps.filtered(lambda s: s.state == "done"))
            job.progress = 100.0 * done / len(steps) if steps else 0.0
            current = steps.filtered(lambda s: s.state != "done")[:1]
            job.current_step = current.label if current and job.state in OPEN_STATES else False
            job.is_busy = job.state in OPEN_STATES

    # ---------------------------------------------------------------- queue

    @api.model
    def _enqueue(self, tenant, job_type, params=None):
        """Queue ``job_type`` for ``tenant``, refusing a second open job, and
        wake the runner. The only way a job is made: no group may create or
        write jobs or steps; the caller must be allowed to change the tenant
        and, for a clone, to read the source."""
        self._check_reach(tenant, job_type, params or {})
        self._check_no_open_job(tenant)
        member = self.env["ipai.tenant.pool.member"]
        if job_type == "create":
            member = self._claim_pool_member(tenant)
        if member:
            params = {**(params or {}), "pooled": True, "bi": tenant.plan_id.feature_bi}
        elif self._job_kind(job_type).running_state(params):  # a new database will be made
            server = self.env["ipai.tenant.server"]._reserve_for(tenant)
            if tenant.server_id != server:
                tenant.sudo().server_id = server
        job = self.sudo().create(
            {
                "tenant_id": tenant.id,
                "job_type": job_type,
                "params": params or {},
                "pool_member_id": member.id,
                "step_ids": self._step_commands(job_type, params),
            }
        )
        tenant._audit(f"job:{job_type}", {"job": (False, job.id)})
        self.env.ref("ipai_tenant_engine.ir_cron_run_tenant_jobs").sudo()._trigger()
        return job

    @api.model
    def _step_commands(self, job_type, params):
        return [
            fields.Command.create({"sequence": index, "name": name, "label": label})
            for index, (name, label, _function) in enumerate(
                self._job_kind(job_type).steps(params), start=1
            )
        ]

    @api.model
    def _job_kinds(self):
        """Job type -> its kind (provisioning/kinds.py): the engine's own;
        an addon that adds job types extends this (and the selection)."""
        return operations.KINDS

    @api.model
    def _job_kind(self, job_type):
        kind = self._job_kinds().get(job_type)
        if not kind:
            raise UserError(self.env._("Unknown job type %s.", job_type))
        return kind

    @api.model
    def _claim_pool_member(self, tenant):
        """A ready database of the tenant's module set from the warm pool,
        on a server that has it (it already counts there), or nothing."""
        pool = self.env["ipai.tenant.pool.member"].sudo()
        if not pool.search_count([("state", "=", "ready")]):
            return pool
        key = pool._current_key(tenant.plan_id)
        every = self.env["ipai.tenant.server"].sudo().search([], limit=1000)
        # A tenant whose provider or plan has a server of its own takes a
        # member there or none (pool members go to shared servers only).
        servers = every._dedicated_to(tenant) or tenant.server_id or every
        for server in servers:
            member = pool._claim_for(tenant, key, server)
            if member:
                # The tenant keeps the member's database and role names: a
                # runtime may already hold its registry, connected as that role.
                tenant.sudo().write(
                    {
                        "server_id": server.id,
                        "database_name": member.database_name,
                        "runtime_role": member.role_name,
                        "db_role": member.bi_role_name,
                        # Written with its siblings: they share one compute.
                        "analytics_schema": naming.schema_name(tenant.code),
                    }
                )
                return member
        return pool

    @api.model
    def _check_reach(self, tenant, job_type, params):
        """Checked in Python, whatever the view offers: the caller may change
        ``tenant``, and may read the source of a clone."""
        tenant = tenant.with_env(self.env)
        tenant.check_access("write")
        # Every job changes the tenant: managers and stronger roles only
        # (archive and drop ask for more in their actions).
        tenant._check_power(OPERATE)
        if set(params) - self._job_kind(job_type).params:
            raise UserError(self.env._("Unexpected parameters for a %s job.", job_type))
        if job_type == "clone":
            source = self.env["ipai.tenant"].search(
                [("code", "=", params.get("source_code") or "")], limit=1
            )
            if not source:
                # Same answer whether the code exists outside the caller's
                # reach or not at all: nothing is told about foreign tenants.
                raise UserError(self.env._("You have no tenant to clone with that code."))
            source.check_access("read")

    @api.model
    def _check_no_open_job(self, tenant, except_job=None):
        """One open job per tenant; the partial unique index backs this up
        against concurrent requests."""
        open_job = self.search(
            [
                ("tenant_id", "=", tenant.id),
                ("state", "in", OPEN_STATES),
                ("id", "!=", except_job.id if except_job else False),
            ],
            limit=1,
        )
        if open_job:
            raise UserError(
                self.env._(
                    "Tenant %(tenant)s already has an open job (%(job)s, %(state)s); "
                    "wait for it to finish.",
                    tenant=tenant.code,
                    job=open_job.name,
                    state=dict(JOB_STATES)[open_job.state],
                )
            )

    def action_retry(self):
        for job in self:
            if job.state != lifecycle.FAILED:
                raise UserError(self.env._("Only failed jobs can be retried."))
            params = dict(job.params or {})
            # Set by the engine, not the requester.
            pooled = params.pop("pooled", False)
            params.pop("bi", None)
            self._check_reach(job.tenant_id, job.job_type, params)
            self._check_no_open_job(job.tenant_id, except_job=job)
            engine = job.sudo()
            if pooled and not job.pool_member_id and job.tenant_id.state != lifecycle.ACTIVE:
                # Its pool member was cleaned up with the failure: start over
                # the ordinary way, from the template, under the tenant's name.
                job.tenant_id.sudo()._reset_database_name()
                engine.write(
                    {
                        "params": params,
                        "step_ids": [
                            fields.Command.clear(),
                            *self._step_commands(job.job_type, params),
                        ],
                    }
                )
            engine.step_ids.filtered(lambda s: s.state != "done").write({"state": "pending"})
            engine.write({"state": "queued", "attempts": 0, "next_retry_at": False, "error": False})
            job.tenant_id._audit("job:retry", {"job": (False, job.id)})
        self.env.ref("ipai_tenant_engine.ir_cron_run_tenant_jobs").sudo()._trigger()
        return True

    def action_cancel(self):
        for job in self:
            job.tenant_id.check_access("write")
            job.tenant_id._check_power(OPERATE)
            # Locked first: a runner taking the job now waits, then sees it
            # cancelled; one that took it already has started a step.
            job._lock_row()
            job.invalidate_recordset()
            if job.state != "queued" or job.step_ids.filtered(lambda s: s.state != "pending"):
                raise UserError(self.env._("Only a job that has not started can be cancelled."))
            member = job.pool_member_id
            job.sudo().write({"state": "cancelled", "pool_member_id": False})
            if member:  # back to the pool, untouched
                member.sudo().write({"state": "ready", "tenant_id": False})
                job.tenant_id.sudo()._reset_database_name()
            job.tenant_id._audit("job:cancel", {"job": (False, job.id)})
            if job.tenant_id.state == lifecycle.PROVISIONING and job._job_kind(
                job.job_type
            ).running_state(job.params):
                job.tenant_id._set_state_from_engine(lifecycle.DRAFT)
        return True

    @api.model
    def _cron_run_jobs(self, limit=None):
        """Drain the queue: run due jobs (and resume those whose worker died)
        on ``runner_concurrency`` threads until none is due or the time
        budget is spent, then tell ``ir.cron`` the real backlog so that it
        calls again at once instead of at the next interval. ``limit`` caps
        the jobs of one call."""
        # The row locks of the cron's own transaction must not be held
        # while jobs commit on their own cursors.
        self.env.cr.commit()  # pylint: disable=invalid-commit
        ran, due, next_retry = runner.drain(
            self.env.registry,
            concurrency=self._runner_concurrency(),
            budget_seconds=self._runner_budget(),
            max_jobs=limit,
        )
        self.env["ir.cron"]._notify_progress(done=ran, remaining=due)
        cron = self.env.ref("ipai_tenant_engine.ir_cron_run_tenant_jobs").sudo()
        if due and not ran:
            # ir.cron takes "nothing done" as "nothing left": come back soon.
            cron._trigger(fields.Datetime.now() + timedelta(seconds=1))
        elif next_retry and not due:
            # A retry comes due before the next interval: be there on time.
            cron._trigger(next_retry)
        return ran

    @api.model
    def _runner_concurrency(self):
        value = self.env["ir.config_parameter"].sudo().get_param(RUNNER_CONCURRENCY_PARAM)
        try:
            return max(int(value), 1) if value else os.cpu_count() or 1
        except ValueError:
            return os.cpu_count() or 1

    @api.model
    def _runner_budget(self):
        """Seconds during which a cron call starts new jobs: half of Odoo's
        cron time limit, so the jobs still in flight can finish within it."""
        limit = config.get("limit_time_real_cron") or -1
        if limit <= 0:
            limit = config.get("limit_time_real") or 120
        return max(min(limit / 2, 300), 5)

    def _runner(self, on_progress=None):
        """A runner for this job in the current process (the command line
        uses it); ``claim()`` it, commit, then ``run()``."""
        self.ensure_one()
        return runner.JobRunner(self.env.registry, self.id, on_progress)

    # ----------------------------------------------------- engine callbacks

    def _lock_row(self):
        self.env.cr.execute(
            "SELECT id FROM ipai_tenant_job WHERE id = %s FOR NO KEY UPDATE", [self.id]
        )

    def _engine_start(self):
        self.write(
            {
                "state": "running",
                "attempts": self.attempts + 1,
                "date_started": self.date_started or fields.Datetime.now(),
                "next_retry_at": False,
            }
        )
        running_state = self._job_kind(self.job_type).running_state(self.params)
        if running_state and self.tenant_id.state != running_state:
            self.tenant_id._set_state_from_engine(running_state)

    def _engine_finish(self):
        now = fields.Datetime.now()
        self.write(
            {
                "state": "done",
                "error": False,
                "date_finished": now,
                "duration": sum(self.step_ids.mapped("duration")),
            }
        )
        self.tenant_id._audit(f"job:{self.job_type}:done", {"job": (False, self.id)})

    def _engine_wait(self, message, retry_at):
        """Back to the queue without using up an attempt (see WaitingError)."""
        self.write(
            {
                "state": "queued",
                "error": message,
                "next_retry_at": retry_at,
                "attempts": max(self.attempts - 1, 0),
            }
        )
        self.step_ids.filtered(lambda s: s.state in ("failed", "running")).write(
            {"state": "pending"}
        )

    def _engine_retry_later(self, message, retry_at):
        self.write({"state": "queued", "error": message, "next_retry_at": retry_at})
        self.step_ids.filtered(lambda s: s.state == lifecycle.FAILED).write({"state": "pending"})

    def _engine_fail(self, message, undo_lines):
        if undo_lines:
            message += "\n\nCleaned up:\n" + "\n".join(undo_lines)
            # Everything this job made is gone: a retry starts from the top.
            self.step_ids.write({"state": "pending"})
        self.write({"state": "failed", "error": message, "date_finished": fields.Datetime.now()})
        if self._failure_leaves_tenant_failed():
            self.tenant_id._set_state_from_engine(lifecycle.FAILED)
        self.tenant_id._audit(f"job:{self.job_type}:failed", {"error": (False, message[:500])})

    def _failure_leaves_tenant_failed(self):
        """Whether this job's permanent failure leaves its tenant half-made
        (marked failed); a kind whose failure changes nothing, or whose undo
        puts the tenant back in service, says no (data safety's)."""
        return True

    # ------------------------------------------------- the engine's spec

    def _engine_spec(self):
        """What a step of this job is given (provisioning/spec.py), built
        from the records as they are at the step's start: the tenant, what
        earlier steps left on the job, and the clone's source as the
        requester may see it."""
        self.ensure_one()
        return JobSpec(**self._engine_spec_values())

    def _engine_spec_values(self):
        """The spec's values; an addon's kinds add theirs (``extra``)."""
        tenant = self.tenant_id
        return {
            "id": self.id,
            "job_type": self.job_type,
            "kind": self._job_kind(self.job_type),
            "tenant": tenant._engine_tenant_spec(),
            "params_json": json.dumps(self.params or {}),
            "stamp": self.create_date.strftime("%Y%m%d-%H%M%S"),
            "pool_member": (
                self.pool_member_id._engine_spec(tenant) if self.pool_member_id else None
            ),
            "template": self.template_id._engine_spec() if self.template_id else None,
            "bi_token": (
                self.env["ipai.tenant.secret"].sudo()._get(tenant, "db_role_password") or None
            ),
            **self._engine_source(),
        }

    def _as_requester(self, model):
        """``model`` as the job's requester sees it: a source outside the
        requester's reach does not exist for the engine either."""
        records = self.env[model]
        requester = self.requested_by_id
        if requester and not requester._is_superuser():
            records = records.with_user(requester)
        return records

    def _engine_source(self):
        """The clone's source tenant, or why there is none."""
        params = self.params or {}
        if self.job_type == "clone":
            code = params.get("source_code") or ""
            source = self._as_requester("ipai.tenant").search([("code", "=", code)], limit=1)
            if not source:
                return {
                    "missing_source": f"Source tenant {code} does not exist; nothing was changed."
                }
            return {"clone_source": source.sudo()._engine_tenant_spec()}
        return {}

    # ------------------------------------- outcome hooks (spec.Outcome.apply)

    def _engine_apply(self, outcome):
        """What a step recorded, applied in its order in the step's
        transaction (the runner commits it with the step)."""
        self.ensure_one()
        outcome.apply(self)

    def _engine_store_secret(self, kind, plaintext, one_time=False):
        self.tenant_id._store_secret(kind, plaintext, one_time=one_time)

    def _engine_forget_secrets(self):
        self.tenant_id._forget_secrets()

    def _engine_set_state(self, state):
        self.tenant_id._set_state_from_engine(state)

    def _engine_keep_modules(self, names):
        self.tenant_id._keep_modules(names)

    def _engine_use_template(self, template_id):
        self.template_id = template_id

    def _engine_template_ready(self, template_id, size_bytes):
        self.env["ipai.tenant.template"].browse(template_id)._mark_ready(size_bytes)

    def _engine_set_workspace(self, name):
        self.tenant_id.superset_workspace = name

    def _engine_queue_welcome_mail(self, reset_url):
        self.tenant_id._queue_welcome_mail(reset_url)

    def _engine_set_cell(self, code):
        """The tenant's route moves to cell ``code`` (a move job's step)."""
        cell = self.env["ipai.tenant.cell"].sudo().search([("code", "=", code)], limit=1)
        if not cell:
            raise PermanentError(f"There is no cell {code}.")
        self.tenant_id.sudo().cell_id = cell

    def _engine_forget_pool_member(self, member_id):
        """A member adopted by the tenant, or removed with its undo."""
        self.env["ipai.tenant.pool.member"].sudo().browse(member_id).exists().unlink()


class IpaiTenantJobStep(models.Model):
    _name = "ipai.tenant.job.step"
    _description = "Tenant job step"
    _order = "job_id, sequence"

    job_id = fields.Many2one("ipai.tenant.job", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer(required=True)
    name = fields.Char(required=True, help="Step code in the engine.")
    label = fields.Char(required=True)
    state = fields.Selection(
        [("pending", "Pending"), ("running", "Running"), ("done", "Done"), ("failed", "Failed")],
        default="pending",
        required=True,
    )
    log = fields.Text()
    skip_reason = fields.Char(
        string="Skipped", help="Why the step did nothing (it is done all the same)."
    )
    date_started = fields.Datetime()
    duration = fields.Float(string="Duration (s)", digits=(16, 3))

    def _engine_begin(self):
        self.write({"state": "running", "date_started": fields.Datetime.now()})

    def _engine_done(self, log, duration, skip_reason=None):
        self.write({"state": "done", "log": log, "duration": duration, "skip_reason": skip_reason})

    def _engine_failed(self, message, detail):
        self.write({"state": "failed", "log": f"{message}\n\n{detail}"})
