"""Run one job to its end, one committed step at a time.

- A session-level advisory lock on a dedicated connection marks the job as
  taken for as long as this process lives; it survives the per-step commits
  and vanishes with the process, so a job left ``running`` whose lock is free
  has lost its worker and is resumed by the next runner.
- Each step runs in its own transaction: the step row is marked running and
  committed, the external work is done, the result is committed (for the
  last step, with the job's end). Rerunning a job skips its done steps and
  repeats at most the one that was interrupted.
- The advisory lock's connection is kept for the next job once the lock is
  released (a new backend per job cost about 5 ms of every signup).
- Failures are written through a fresh cursor, so the rollback of the failed
  step's transaction cannot erase them.
- A job whose worker died ``max_attempts`` times fails and is cleaned up
  like any permanent failure, instead of being resumed forever.
- ``drain()`` runs due jobs on a few threads until the queue is empty or a
  time budget is spent; jobs are on distinct tenants (one open job per
  tenant), and jobs waiting for a template build go back to the queue
  without holding a thread.
"""

# The runner owns the cursors it opens and commits each step on purpose:
# that is what makes a job resumable after a crash.
# pylint: disable=invalid-commit

import logging
import os
import random
import threading
import time
import traceback
from concurrent import futures
from contextlib import closing, contextmanager
from datetime import timedelta

import psycopg2
from odoo import SUPERUSER_ID, api, fields, modules, sql_db
from odoo.addons.ipai_platform_rules import jobs
from odoo.addons.ipai_tenant_core.infra import pg
from odoo.addons.ipai_tenant_core.infra.errors import WaitingError, is_transient
from psycopg2 import errorcodes
from psycopg2.extensions import ISOLATION_LEVEL_READ_COMMITTED

from . import operations
from .faults import failpoint

_logger = logging.getLogger(__name__)

LOCK_CLASS = 0x1BA1
LOCK_NAMESPACE = LOCK_CLASS << 32
MAX_BACKOFF_SECONDS = 600
# The runner's own transactions on the platform database, like the engine's
# connections (pg.LOCK_TIMEOUT_MS): a step waits for a lock for so long,
# then fails and is retried.
PLATFORM_TIMEOUTS = "SET LOCAL lock_timeout = '30s'; SET LOCAL statement_timeout = '15min'"


# Conflicts between concurrent transactions, retried on the spot.
CONFLICT_PGCODES = (errorcodes.SERIALIZATION_FAILURE, errorcodes.DEADLOCK_DETECTED)
CONFLICT_RETRIES = 8


def backoff_seconds(attempt, rng=random):
    """5 s, 10 s, 20 s ... capped at 10 minutes, each spread over +-50 %:
    jobs that failed on the same outage do not all come back at once."""
    base = min(5 * 2 ** max(attempt - 1, 0), MAX_BACKOFF_SECONDS)
    return base * rng.uniform(0.5, 1.5)


@contextmanager
def engine_cursor(registry):
    """A platform cursor with the engine's timeouts; commit it with
    ``commit(cr)``, which sets them again for the next transaction.

    READ COMMITTED rather than Odoo's REPEATABLE READ: parallel jobs all
    append to the audit trail, whose one-row chain head each append locks;
    under REPEATABLE READ every append that waited for that lock would fail
    with a serialization error, under READ COMMITTED it reads the head its
    predecessor wrote. (Odoo sets its level again on each new cursor.)"""
    with closing(registry.cursor()) as cr:
        cr.connection.set_isolation_level(ISOLATION_LEVEL_READ_COMMITTED)
        cr.execute(PLATFORM_TIMEOUTS)
        yield cr


def commit(cr):
    """Commit and set the timeouts again for the cursor's next transaction;
    a cursor's last commit is a plain ``cr.commit()``: nothing follows it."""
    cr.commit()
    cr.execute(PLATFORM_TIMEOUTS)


def checkpoint(cr):
    """The commit of a cron's unit of work done outside a job (a warm-pool
    member built or retired, a batch of usage counted): the one place
    besides the runner where the engine's work is committed. Odoo's test
    mode runs the cron inside the test's transaction, which must not be
    committed, so there the work stays in it."""
    if not modules.module.current_test:
        cr.commit()


# Connections that held a job's advisory lock, kept (unlocked) for the next
# job of this process: a new backend costs about 5 ms, one per job. Keyed by
# process too, so that a forked worker never shares its parent's.
_IDLE_LOCK_CONNECTIONS = {}  # (pid, database) -> [connection]
_IDLE_LOCK_CONNECTIONS_GUARD = threading.Lock()
MAX_IDLE_LOCK_CONNECTIONS = 8


def _lock_connection(dbname):
    """A connection to ``dbname`` holding no advisory lock, and whether it
    was kept (the server may have dropped it since)."""
    with _IDLE_LOCK_CONNECTIONS_GUARD:
        idle = _IDLE_LOCK_CONNECTIONS.get((os.getpid(), dbname), [])
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn, True
    _dbname, info = sql_db.connection_info_for(dbname)
    conn = psycopg2.connect(**info)
    conn.autocommit = True
    return conn, False


def _unlock_and_keep(conn, dbname):
    """Release every advisory lock ``conn`` holds and keep it for the next
    job; a connection that cannot say it released them is closed, which
    releases them for sure."""
    try:
        with conn.cursor() as cr:
            cr.execute("SELECT pg_advisory_unlock_all()")
    except psycopg2.Error:
        conn.close()
        return
    with _IDLE_LOCK_CONNECTIONS_GUARD:
        idle = _IDLE_LOCK_CONNECTIONS.setdefault((os.getpid(), dbname), [])
        if len(idle) < MAX_IDLE_LOCK_CONNECTIONS:
            idle.append(conn)
            return
    conn.close()


class JobRunner:
    def __init__(self, registry, job_id, on_progress=None):
        self.registry = registry
        self.job_id = job_id
        self.on_progress = on_progress or (lambda job, step, event: None)
        self._requester_id = None

    def _env(self, cr):
        """The engine acts with its own rights but in the requester's name
        (a technical user for what a cron queued): the audit trail and the
        lookup of a clone's source name who asked, not the superuser. The
        requester never changes: read once per run."""
        if self._requester_id is None:
            cr.execute("SELECT requested_by_id FROM ipai_tenant_job WHERE id = %s", [self.job_id])
            row = cr.fetchone()
            self._requester_id = (row and row[0]) or SUPERUSER_ID
        return api.Environment(cr, self._requester_id, {}, su=True)

    def claim(self):
        """Take the job's advisory lock; False when a live worker has it.
        May be called before the job row is even committed, so that a cron
        woken by the commit cannot take a job its requester means to run."""
        while True:
            self._lock_conn, kept = _lock_connection(self.registry.db_name)
            try:
                locked = pg.try_advisory_lock(self._lock_conn, LOCK_NAMESPACE | self.job_id)
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                self._lock_conn.close()
                self._lock_conn = None
                if not kept:
                    raise
                continue  # a kept connection the server dropped: take another
            if locked:
                return True
            self.release()
            return False

    def release(self):
        if getattr(self, "_lock_conn", None) is not None:
            _unlock_and_keep(self._lock_conn, self.registry.db_name)
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
        started = self._retrying_conflicts(self._start)
        if isinstance(started, str) or started is None:
            return started  # nothing to run, or given up
        step_ids, begun_id = started
        ended = None
        for step_id in step_ids:
            last = step_id == step_ids[-1]
            try:
                ended = self._retrying_conflicts(
                    lambda step_id=step_id, last=last: self._run_step(
                        step_id, finish=last, begun=step_id == begun_id
                    )
                )
            except Exception as exc:
                return self._retrying_conflicts(lambda s=step_id, e=exc: self._record_failure(s, e))
        if isinstance(ended, str):
            return ended  # the job ended with its last step
        return self._retrying_conflicts(self._finish)

    def _start(self):
        """The job's step ids and the id of the step begun with the job (its
        first one not done: its first transaction is the job's start, one
        commit fewer per job), or the state the job is in when there is
        nothing to run."""
        with engine_cursor(self.registry) as cr:
            env = self._env(cr)
            job = env["ipai.tenant.job"].browse(self.job_id)
            if not job.exists():
                return None
            # Locked, then read: a cancel committed meanwhile is seen (READ
            # COMMITTED), and one coming later waits for this transaction.
            job._lock_row()
            job.invalidate_recordset()
            if job.state not in jobs.OPEN_STATES:
                return job.state
            if job.state == "running" and job.attempts >= job.max_attempts:
                # Its worker died at every attempt (killed, out of memory):
                # resuming once more would most likely kill this one too.
                return self._give_up(
                    cr, job, f"Gave up: the worker running this job died {job.attempts} times."
                )
            job._engine_start()
            steps = job.step_ids.sorted("sequence")
            first = steps.filtered(lambda s: s.state != "done")[:1]
            first._engine_begin()
            cr.commit()
            if first:
                self.on_progress(job, first, "started")
            return steps.ids, first.id

    def _finish(self):
        with engine_cursor(self.registry) as cr:
            job = self._env(cr)["ipai.tenant.job"].browse(self.job_id)
            job._engine_finish()
            cr.commit()
            self.on_progress(job, None, "done")
            return job.state

    def _retrying_conflicts(self, work):
        """Parallel jobs meet on shared rows (the audit trail's chain head,
        locked by every append): a serialization failure or deadlock is no
        outage, so the transaction runs again at once after a short random
        pause, as Odoo retries a request (odoo.service.model.retrying).
        Steps are idempotent, so a step may run again too."""
        for retry in range(CONFLICT_RETRIES + 1):
            try:
                return work()
            except psycopg2.Error as exc:
                if exc.pgcode not in CONFLICT_PGCODES or retry == CONFLICT_RETRIES:
                    raise
                _logger.info("tenant job %s: %s; running it again", self.job_id, exc.pgcode)
                time.sleep(random.uniform(0.01, 0.05 * 2**retry))
        return None

    def _run_step(self, step_id, finish=False, begun=False):
        """Run one step in its two transactions (``begun``: the first one
        was the job's start); False if it was done already. With ``finish``
        (the job's last step), the job ends in the step's second
        transaction, and its state is returned: one commit fewer per job,
        and no run that did every step leaves the job open."""
        with engine_cursor(self.registry) as cr:
            env = self._env(cr)
            step = env["ipai.tenant.job.step"].browse(step_id)
            if step.state == "done":
                return False
            job = step.job_id
            if not begun:
                job._lock_row()
                step._engine_begin()
                commit(cr)
                self.on_progress(job, step, "started")
            failpoint("before", step.name)
            ctx = self._context(job)
            started = time.monotonic()
            function = ctx.spec.kind.step(ctx.params, step.name)
            operations.verify_targets(ctx)
            function(ctx)
            # What the step did reaches the records in its own transaction,
            # committed with the step: a kill before the commit loses both.
            job._engine_apply(ctx.outcome)
            step._engine_done("\n".join(ctx.lines), time.monotonic() - started, ctx.outcome.skipped)
            if finish:
                job._engine_finish()
                ended = job.state
            cr.commit()
            self.on_progress(job, step, "done")
            if finish:
                self.on_progress(job, None, "done")
            failpoint("after", step.name)
            return ended if finish else True

    def _record_failure(self, step_id, exc):
        if isinstance(exc, WaitingError):
            return self._record_wait(step_id, exc)
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
        with engine_cursor(self.registry) as cr:
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
                undo_lines = self._undo(job)
                job._engine_fail(message, undo_lines)
            commit(cr)
            self.on_progress(job, step, "failed")
            return job.state

    def _record_wait(self, step_id, exc):
        _logger.info("tenant job %s waits: %s", self.job_id, exc)
        with engine_cursor(self.registry) as cr:
            step = self._env(cr)["ipai.tenant.job.step"].browse(step_id)
            retry_at = fields.Datetime.now() + timedelta(
                seconds=exc.retry_in * random.uniform(0.8, 1.2)
            )
            step.job_id._engine_wait(str(exc), retry_at)
            commit(cr)
            self.on_progress(step.job_id, step, "waiting")
            return step.job_id.state

    def _give_up(self, cr, job, message):
        _logger.error("tenant job %s: %s", self.job_id, message)
        job._engine_fail(message, self._undo(job))
        commit(cr)
        self.on_progress(job, None, "failed")
        return job.state

    def _undo(self, job):
        ctx = self._context(job)
        if not ctx.spec.kind.undo:
            return []
        try:
            # Names that are not the tenant's own: the undo touches nothing.
            operations.verify_targets(ctx)
        except Exception as exc:
            return [f"nothing undone: {exc}"]
        try:
            ctx.spec.kind.undo(ctx)
        except Exception as exc:
            ctx.log(f"cleanup incomplete, retry will finish it: {exc}")
        # What was undone before a failure is recorded all the same.
        job._engine_apply(ctx.outcome)
        return ctx.lines

    @staticmethod
    def _context(job):
        """A step's context: the job's frozen spec, built now (what earlier
        steps committed included), and the tenant's database server."""
        return operations.StepContext(
            spec=job._engine_spec(),
            server=job.tenant_id._pg_server(),
            catalog=job.env["ipai.tenant.template"]._engine_catalog(),
        )


# Due: queued and its retry time reached, or running without a live worker
# (a live worker holds the job's advisory lock, visible in pg_locks).
DUE_JOBS = """
    FROM ipai_tenant_job j
   WHERE ((j.state = 'queued'
           AND (j.next_retry_at IS NULL OR j.next_retry_at <= now() at time zone 'UTC'))
          OR j.state = 'running')
     AND NOT EXISTS (
           SELECT 1 FROM pg_locks l
            WHERE l.locktype = 'advisory' AND l.classid = %(lock_class)s
              AND l.objid = j.id AND l.objsubid = 1
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
"""


def pending_job_ids(cr, limit):
    """Jobs ready to run, oldest first. Rows locked by another picker right
    now are skipped."""
    cr.execute(
        f"SELECT j.id {DUE_JOBS} ORDER BY j.id LIMIT %(limit)s FOR NO KEY UPDATE SKIP LOCKED",
        {"lock_class": LOCK_CLASS, "limit": limit},
    )
    return [row[0] for row in cr.fetchall()]


def backlog(cr):
    """How many jobs are due now, and when the next retry comes due."""
    cr.execute(f"SELECT count(*) {DUE_JOBS}", {"lock_class": LOCK_CLASS})
    (due,) = cr.fetchone()
    cr.execute(
        "SELECT min(next_retry_at) FROM ipai_tenant_job "
        "WHERE state = 'queued' AND next_retry_at > now() at time zone 'UTC'"
    )
    return due, cr.fetchone()[0]


def _take(registry, count):
    """Up to ``count`` due jobs, each claimed (its advisory lock held)."""
    if count <= 0:
        return []
    try:
        with closing(registry.cursor()) as cr:
            job_ids = pending_job_ids(cr, count)
            runners = [JobRunner(registry, job_id) for job_id in job_ids]
            # Claimed before the row locks go: no other picker can take them
            # between the commit and the run.
            claimed = [runner for runner in runners if runner.claim()]
            cr.commit()
    except psycopg2.OperationalError as exc:
        # The platform database is unreachable (restarting): the jobs stay
        # where they are and the next run takes them.
        _logger.warning("tenant jobs could not be picked: %s", exc)
        return []
    return claimed


def drain(registry, concurrency, budget_seconds, max_jobs=None, poll_seconds=0.2):
    """Run due jobs, ``concurrency`` at a time, until none is due or
    ``budget_seconds`` have passed (then the jobs in flight are finished,
    nothing new starts). New jobs queued meanwhile are picked up, and a job
    waiting a few seconds (for a template build) is waited for. Returns
    (jobs brought to an end, jobs still due, next retry time or None)."""
    deadline = time.monotonic() + budget_seconds
    started = ended = 0

    def thread_init():
        threading.current_thread().dbname = registry.db_name

    with futures.ThreadPoolExecutor(
        max_workers=concurrency, thread_name_prefix="ipai-job", initializer=thread_init
    ) as pool:
        in_flight = {}
        while True:
            room = concurrency - len(in_flight)
            if max_jobs is not None:
                room = min(room, max_jobs - started)
            if room > 0 and time.monotonic() < deadline:
                for job_runner in _take(registry, room):
                    in_flight[pool.submit(job_runner.run)] = job_runner
                    started += 1
            if not in_flight and not _soon_due(registry, deadline, max_jobs, started):
                break
            done, _pending = futures.wait(
                in_flight, timeout=poll_seconds, return_when=futures.FIRST_COMPLETED
            )
            for future in done:
                job_runner = in_flight.pop(future)
                if future.exception() is not None:
                    _logger.error(
                        "runner of tenant job %s crashed",
                        job_runner.job_id,
                        exc_info=future.exception(),
                    )
                elif future.result() in ENDED_STATES:
                    ended += 1
            if not in_flight and not done:
                time.sleep(poll_seconds)
    with closing(registry.cursor()) as cr:
        due, next_retry = backlog(cr)
    return ended, due, next_retry


ENDED_STATES = ("done", "failed", "cancelled")
# A job coming due within this many seconds (one waiting for a template
# build) is waited for rather than left to the next cron call.
SHORT_WAIT_SECONDS = 10


def _soon_due(registry, deadline, max_jobs, started):
    if max_jobs is not None and started >= max_jobs:
        return False
    try:
        with closing(registry.cursor()) as cr:
            due, next_retry = backlog(cr)
    except psycopg2.OperationalError:
        return False
    if due:
        return time.monotonic() < deadline
    if not next_retry:
        return False
    wait = (next_retry - fields.Datetime.now()).total_seconds()
    return wait <= SHORT_WAIT_SECONDS and time.monotonic() + wait < deadline
