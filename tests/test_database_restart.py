"""PostgreSQL restarted while jobs run: every job finishes (retrying until
it does) and nothing is left half-made. The tenants live on a second local
cluster of their own (a second database server, as a fleet has), which this
module creates, restarts mid-run and drops."""

import subprocess
import time
from pathlib import Path

import pytest

from .support import (
    FILESTORE,
    on_cluster,
    owner_mark,
    paused_cron,
    pg_cluster,
    query,
    run_cli_process,
)

JOBS = 6


@pytest.fixture(scope="module")
def second_cluster(admin_rpc):
    with pg_cluster("restart") as cluster:
        # The platform's role, as the bootstrap makes it on a cluster.
        on_cluster(cluster, "CREATE ROLE ipai LOGIN CREATEDB CREATEROLE")
        server_id = admin_rpc.call(
            "ipai.tenant.server",
            "create",
            {"name": "second cluster", "host": "127.0.0.1", "port": cluster["port"], "sequence": 1},
        )
        yield {**cluster, "server_id": server_id}
        admin_rpc.call("ipai.tenant.server", "write", [server_id], {"active": False})


def states(platform_db, prefix):
    return dict(
        query(
            platform_db,
            "SELECT t.code, t.state FROM ipai_tenant t WHERE t.code LIKE %s",
            [prefix + "-%"],
        )
    )


def test_jobs_finish_across_a_postgresql_restart(second_cluster, admin_rpc, cli, platform_db):
    on_server = {"server_id": second_cluster["server_id"]}
    with paused_cron(platform_db, "ir_cron_run_tenant_jobs"):
        # The first tenant on the new server builds its template there.
        first = admin_rpc.call(
            "ipai.tenant", "create", {"code": "restart-first", "name": "First", **on_server}
        )
        admin_rpc.call("ipai.tenant", "action_provision", [first])
        assert cli("run-jobs").returncode == 0
        assert states(platform_db, "restart") == {"restart-first": "active"}
        assert query(
            platform_db,
            "SELECT s.port FROM ipai_tenant t JOIN ipai_tenant_server s ON s.id = t.server_id "
            "WHERE t.code = 'restart-first'",
        ) == [(second_cluster["port"],)]

        ids = [
            admin_rpc.call(
                "ipai.tenant", "create", {"code": f"restart-{n}", "name": f"{n}", **on_server}
            )
            for n in range(JOBS)
        ]
        admin_rpc.call("ipai.tenant", "action_provision", ids)
        runner = run_cli_process(platform_db, "run-jobs")
        # Restart once the runner is inside the jobs' steps.
        deadline = time.monotonic() + 60
        while not query(
            platform_db,
            "SELECT 1 FROM ipai_tenant_job_step s JOIN ipai_tenant_job j ON j.id = s.job_id "
            "JOIN ipai_tenant t ON t.id = j.tenant_id "
            "WHERE t.code LIKE 'restart-_' AND s.state = 'done' AND s.name = 'create_database'",
        ):
            assert time.monotonic() < deadline and runner.poll() is None, "jobs never started"
            time.sleep(0.02)
        subprocess.run(
            [
                "pg_ctlcluster",
                second_cluster["version"],
                second_cluster["name"],
                "restart",
                "-m",
                "fast",
            ],
            check=True,
            capture_output=True,
        )
        first_run = runner.wait_result()
        assert first_run.returncode == 0, first_run.stdout + first_run.stderr
        # Whatever the restart interrupted retries after its backoff.
        deadline = time.monotonic() + 180
        while set(states(platform_db, "restart").values()) != {"active"}:
            assert time.monotonic() < deadline, states(platform_db, "restart")
            assert cli("run-jobs").returncode == 0
            time.sleep(1)
    retried = query(
        platform_db,
        "SELECT count(*) FROM ipai_tenant_job j JOIN ipai_tenant t ON t.id = j.tenant_id "
        "WHERE t.code LIKE 'restart-_' AND j.attempts > 1",
    )[0][0]
    assert retried >= 1, "the restart interrupted no job: the test proved nothing"
    # Nothing half-made: the cluster holds the template and the tenants'
    # databases, each marked as its tenant's, and no scratch or partial copy.
    databases = dict(
        on_cluster(
            second_cluster,
            "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
            "WHERE datname NOT IN ('postgres', 'template0', 'template1')",
        )
    )
    tenants = [name for name in databases if "restart-" in name]
    assert len(tenants) == JOBS + 1
    assert all(databases[name] == owner_mark(f"tenant:{name.split('_t_')[-1]}") for name in tenants)
    assert not any("restart-" in databases[name] for name in tenants), "marks name no tenant"
    others = set(databases) - set(tenants)
    assert len(others) == 1 and all("_tpl_" in name and "building" not in name for name in others)
    assert not list(Path(FILESTORE).glob("*.ipai-partial"))
