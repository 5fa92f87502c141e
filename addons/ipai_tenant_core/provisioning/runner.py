"""Run one job to its end, one committed step at a time.

- A session-level advisory lock on a dedicated connection marks the job as
  taken for as long as this process lives; it survives the per-step commits
  and vanishes with the process, so a job left ``running`` whose lock is free
  has lost its worker and is resumed by the next runner.
- Each step runs in its own transaction: the step row is marked running and
  committed, the external work is done, the result is committed. Rerunning a
  job skips its done steps and repeats at most the one that was interrupted.
- Failures are written through a fresh cursor, so the rollback of the failed
  step's transaction cannot erase them.
"""

# The runner owns the cursors it opens and commits each step on purpose:
# that is what makes a job resumable after a crash.
# pylint: disable=invalid-commit

import logging
import os
import signal
import time
import traceback
from contextlib import closing
from datetime import timedelta

import psycopg2
from odoo import SUPERUSER_ID, api, fields, sql_db

from . import operations, pg
from .errors import is_transient

_logger = logging.getLogger(__name__)

LOCK_NAMESPACE = 0x1BA1 << 32
MAX_BACKOFF_SECONDS = 600


def backoff_seconds(attempt):
    """5 s, 10 s, 20 s ... capped at 10 minutes."""
    return min(5 * 2 ** max(attempt - 1, 0), MAX_BACKOFF_SECONDS)


def _failpoint(moment, step):
    # Fault injection for the crash-recovery tests: IPAI_FAILPOINT=after:create_database
    # kills this process with SIGKILL right after that step committed.
    if os.environ.get("IPAI_FAILPOINT") == f"{moment}:{step}":
        _logger.warning("failpoint %s:%s reached, killing the process", moment, step)
        os.kill(os.getpid(), signal.SIGKILL)


class JobRunner:
    def __init__(self, registry, job_id, on_progress=None):
        self.registry = registry
        self.job_id = job_id
        self.on_progress = on_progress or (lambda job, step, event: None)

    def _env(self, cr):
        """The engine acts with its own rights but in the requester's name
        (a technical user for what a cron queued): the audit trail and the
        lookup of a clone's source name who asked, not the superuser."""
        cr.execute("SELECT requested_by_id FROM ipai_tenant_job WHERE id = %s", [self.job_id])
        row = cr.fetchone()
        return api.Environment(cr, (row and row[0]) or SUPERUSER_ID, {}, su=True)

    def claim(self):
        """Take the job's advisory lock; False when a live worker has it.
        May be called before the job row is even committed, so that a cron
        woken by the commit cannot take a job its requester means to run."""
        _dbname, info = sql_db.connection_info_for(self.registry.db_name)
        self._lock_conn = psycopg2.connect(**info)
        self._lock_conn.autocommit = True
        if pg.try_advisory_lock(self._lock_conn, LOCK_NAMESPACE | self.job_id):
            return True
        self.release()
        return False

    def release(self):
        if getattr(self, "_lock_conn", None) is not None:
            self._lock_conn.close()  # releases the advisory lock
            self._lock_conn = None

    def run(self):
        """Run the job if no one else is; return the state it reached, or
        None when another live worker holds it."""
        if getattr(self, "_lock_conn", None) is None and not self.claim():
            return None
        try:
            return self._run_locked()
        finally:
            self.release()

    def _run_locked(self):
        with closing(self.registry.cursor()) as cr:
            env = self._env(cr)
            job = env["ipai.tenant.job"].browse(self.job_id)
            if not job.exists() or job.state not in ("queued", "running"):
                return job.state if job.exists() else None
            job._engine_start()
            cr.commit()
            step_ids = job.step_ids.sorted("sequence").ids
        for step_id in step_ids:
            try:
                if not self._run_step(step_id):
                    continue
            except Exception as exc:
                return self._record_failure(step_id, exc)
        with closing(self.registry.cursor()) as cr:
            job = self._env(cr)["ipai.tenant.job"].browse(self.job_id)
            job._engine_finish()
            cr.commit()
            self.on_progress(job, None, "done")
            return job.state

    def _run_step(self, step_id):
        with closing(self.registry.cursor()) as cr:
            env = self._env(cr)
            step = env["ipai.tenant.job.step"].browse(step_id)
            if step.state == "done":
                return False
            job = step.job_id
            job._lock_row()
            step._engine_begin()
            cr.commit()
            self.on_progress(job, step, "started")
            _failpoint("before", step.name)
            ctx = operations.StepContext(
                env=env, job=job, tenant=job.tenant_id, server=job.tenant_id._pg_server()
            )
            started = time.monotonic()
            function = operations.step_function(job.job_type, job.params, step.name)
            operations.verify_targets(ctx)
            function(ctx)
            step._engine_done("\n".join(ctx.lines), time.monotonic() - started)
            cr.commit()
            self.on_progress(job, step, "done")
            _failpoint("after", step.name)
            return True

    def _record_failure(self, step_id, exc):
        transient = is_transient(exc)
        message = str(exc) or exc.__class__.__name__
        _logger.log(
            logging.WARNING if transient else logging.ERROR,
            "tenant job %s failed in step %s: %s",
            self.job_id,
            step_id,
            message,
            exc_info=not transient,
        )
        with closing(self.registry.cursor()) as cr:
            env = self._env(cr)
            step = env["ipai.tenant.job.step"].browse(step_id)
            job = step.job_id
            step._engine_failed(message, traceback.format_exc(limit=5))
            if transient and job.attempts < job.max_attempts:
                retry_at = fields.Datetime.now() + timedelta(seconds=backoff_seconds(job.attempts))
                job._engine_retry_later(message, retry_at)
            else:
                if transient:
                    message = f"Gave up after {job.attempts} attempts: {message}"
                undo_lines = self._undo(env, job)
                job._engine_fail(message, undo_lines)
            cr.commit()
            self.on_progress(job, step, "failed")
            return job.state

    def _undo(self, env, job):
        if job.job_type not in operations.UNDO_ON_FAILURE or job.tenant_id.state == "active":
            return []
        ctx = operations.StepContext(
            env=env, job=job, tenant=job.tenant_id, server=job.tenant_id._pg_server()
        )
        try:
            # Names that are not the tenant's own: the undo touches nothing.
            operations.verify_targets(ctx)
        except Exception as exc:
            return [f"nothing undone: {exc}"]
        try:
            operations.undo_partial_tenant(ctx)
        except Exception as exc:
            ctx.log(f"cleanup incomplete, retry will finish it: {exc}")
        return ctx.lines


def pending_job_ids(cr, limit):
    """Jobs ready to run: queued and due, or running without a live worker
    (the runner's advisory lock tells those apart). Rows locked by another
    picker right now are skipped."""
    cr.execute(
        """SELECT id FROM ipai_tenant_job
            WHERE (state = 'queued'
                   AND (next_retry_at IS NULL OR next_retry_at <= now() at time zone 'UTC'))
               OR state = 'running'
            ORDER BY id
            LIMIT %s
            FOR NO KEY UPDATE SKIP LOCKED""",
        [limit],
    )
    return [row[0] for row in cr.fetchall()]
