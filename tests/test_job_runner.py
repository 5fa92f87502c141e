"""The job runner under load and faults: a backlog drained in one run,
parallel runners that never run a job twice, a worker killed at every
attempt, a server without room, and a command line that stops following."""

import re
from contextlib import closing

import pytest

from .conftest import TENANT_DB_PREFIX
from .support import (
    database_exists,
    paused_cron,
    pg_connect,
    provision,
    query,
    run_cli_process,
    tenant_row,
)

BACKLOG = 30


def queue_creates(admin_rpc, prefix, count, plan_id=None):
    """Tenants requested through the platform, as a signup form would."""
    extra = {"plan_id": plan_id} if plan_id else {}
    ids = [
        admin_rpc.call(
            "ipai.tenant", "create", {"code": f"{prefix}-{n:02d}", "name": f"{n}", **extra}
        )
        for n in range(count)
    ]
    admin_rpc.call("ipai.tenant", "action_provision", ids)
    return ids


def job_rows(platform_db, prefix):
    return query(
        platform_db,
        """SELECT t.code, t.state, j.state, j.attempts FROM ipai_tenant t
             JOIN ipai_tenant_job j ON j.tenant_id = t.id
            WHERE t.code LIKE %s""",
        [prefix + "-%"],
    )


def processed(result):
    match = re.search(r"(\d+) job\(s\) processed", result.stdout)
    assert match, result.stdout + result.stderr
    return int(match.group(1))


def test_a_backlog_drains_in_one_run_on_parallel_runners(cli, admin_rpc, platform_db):
    """30 signups on a plan whose template does not exist yet, two runner
    processes started together (as two cron workers would be): one job
    builds the template while the others wait for it without using an
    attempt; all are done when both runners return, each job ran exactly
    once, and the two together ended exactly the backlog."""
    [utm] = admin_rpc.call("ir.module.module", "search", [("name", "=", "utm")])
    plan_id = admin_rpc.call(
        "ipai.tenant.plan",
        "create",
        {"code": "drain", "name": "Drain", "module_ids": [(6, 0, [utm])]},
    )
    with paused_cron(platform_db, "ir_cron_run_tenant_jobs"):
        queue_creates(admin_rpc, "drain", BACKLOG, plan_id)
        first = run_cli_process(platform_db, "run-jobs", "--log-level", "info")
        second = run_cli_process(platform_db, "run-jobs", "--log-level", "info")
        results = [first.wait_result(), second.wait_result()]
    assert all(result.returncode == 0 for result in results), results
    logs = "\n".join(result.stdout + result.stderr for result in results)
    rows = job_rows(platform_db, "drain")
    assert len(rows) == BACKLOG
    assert {(state, job_state, attempts) for _c, state, job_state, attempts in rows} == {
        ("active", "done", 1)
    }, logs
    assert sum(processed(result) for result in results) == BACKLOG, logs
    # One build of the plan's template, the other jobs waited for it.
    templates = query(
        platform_db,
        "SELECT count(*) FROM ipai_tenant_template WHERE module_names LIKE %s",
        ["%utm%"],
    )
    assert templates == [(1,)]
    assert "waits: waiting for template" in logs


def test_a_job_whose_worker_dies_every_time_fails_and_cleans_up(cli, platform_db):
    code = "always-killed"
    failpoint = {"IPAI_FAILPOINT": "before:copy_filestore"}
    with paused_cron(platform_db, "ir_cron_run_tenant_jobs"):
        killed = cli("provision", "--code", code, env=failpoint)
        assert killed.returncode == -9
        for _attempt in range(4):  # attempts 2 to 5, each killed as well
            assert cli("run-jobs", env=failpoint).returncode == -9
        assert query(
            platform_db,
            "SELECT j.attempts FROM ipai_tenant_job j JOIN ipai_tenant t ON t.id = j.tenant_id "
            "WHERE t.code = %s",
            [code],
        ) == [(5,)]
        final = cli("run-jobs")
    assert final.returncode == 0, final.stdout + final.stderr
    state, database, db_role = tenant_row(platform_db, code)
    assert state == "failed"
    [(error,)] = query(
        platform_db,
        "SELECT j.error FROM ipai_tenant_job j JOIN ipai_tenant t ON t.id = j.tenant_id "
        "WHERE t.code = %s",
        [code],
    )
    assert "died 5 times" in error
    assert not database_exists(database)
    assert not query("postgres", "SELECT 1 FROM pg_roles WHERE rolname LIKE %s", [f"%{code}%"])
    assert db_role


def test_no_room_on_any_server_is_refused_up_front(cli, admin_rpc, platform_db):
    provision(cli, "room-taken")  # at least one database on the server
    [(server_id, capacity)] = query(
        platform_db, "SELECT id, capacity FROM ipai_tenant_server WHERE active ORDER BY id LIMIT 1"
    )
    [count] = admin_rpc.call("ipai.tenant.server", "read", [server_id], ["tenant_count"])
    draft = admin_rpc.call("ipai.tenant", "create", {"code": "no-room-draft", "name": "Draft"})
    # A draft tenant has no database: it takes no room.
    [after] = admin_rpc.call("ipai.tenant.server", "read", [server_id], ["tenant_count"])
    assert after["tenant_count"] == count["tenant_count"]
    query(
        platform_db,
        "UPDATE ipai_tenant_server SET capacity = %s WHERE id = %s",
        [count["tenant_count"], server_id],
    )
    try:
        result = cli("provision", "--code", "no-room")
        assert result.returncode == 2, result.stdout + result.stderr
        assert "No database server has room" in result.stderr
        assert f"{count['tenant_count']}/{count['tenant_count']}" in result.stderr
        assert not query(platform_db, "SELECT 1 FROM ipai_tenant WHERE code = 'no-room'")
        assert not database_exists(TENANT_DB_PREFIX + "no-room")
        with pytest.raises(Exception, match="No database server has room"):
            admin_rpc.call("ipai.tenant", "action_provision", [draft])
        assert tenant_row(platform_db, "no-room-draft")[0] == "draft"
        assert not query(platform_db, "SELECT 1 FROM ipai_tenant_job WHERE tenant_id = %s", [draft])
    finally:
        query(
            platform_db,
            "UPDATE ipai_tenant_server SET capacity = %s WHERE id = %s",
            [capacity, server_id],
        )


def test_the_command_line_stops_following_after_its_time(cli, platform_db):
    """A job waiting for a template another job builds: the command line
    says where the job is and exits 3; the job goes on and ends later."""
    # Every ready template (other tests, a fleet upgrade, made more than
    # the trial plan's): whichever the job needs is being built by another.
    ready = [
        template_id
        for (template_id,) in query(
            platform_db, "SELECT id FROM ipai_tenant_template WHERE state = 'ready'"
        )
    ]
    query(platform_db, "UPDATE ipai_tenant_template SET state = 'new' WHERE id = ANY(%s)", [ready])
    with (
        paused_cron(platform_db, "ir_cron_run_tenant_jobs"),
        closing(pg_connect(platform_db)) as builder,
    ):
        builder.autocommit = False
        with builder.cursor() as cr:  # "another job is building it"
            cr.execute("SELECT 1 FROM ipai_tenant_template WHERE id = ANY(%s) FOR UPDATE", [ready])
        result = cli("provision", "--code", "slow-follow", env={"IPAI_FOLLOW_SECONDS": "2"})
        builder.rollback()
    assert result.returncode == 3, result.stdout + result.stderr
    assert "stopped following" in result.stderr and "queued" in result.stderr
    assert "waiting for template" in result.stderr
    assert cli("run-jobs").returncode == 0
    assert tenant_row(platform_db, "slow-follow")[0] == "active"
    # The templates the job did not need are as they were (their databases untouched).
    query(
        platform_db,
        "UPDATE ipai_tenant_template SET state = 'ready' WHERE id = ANY(%s) AND state = 'new'",
        [ready],
    )
