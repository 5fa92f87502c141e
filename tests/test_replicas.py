"""Read replicas, on a second PostgreSQL cluster this module makes and a
real streaming replica of it (pg_basebackup, a hot standby replaying its
WAL): `make set-replica` checks a replica before recording it; the tenant
runtime then serves the read-only requests of that server's tenants from
the replica (seen by the replica answering with what it has replayed so
far), sends them to the primary as soon as the replica falls further behind
than its limit or goes away, while writes always reach the primary; and
nobody but a platform manager names or removes a replica."""

import subprocess
import time

import pytest

from .support import (
    RpcError,
    on_cluster,
    pg_standby,
    provider_with_manager,
    provision,
    query,
    registered_server,
    tenant_login,
)

PRIMARY = "rp-primary"
CODE = "rp-one"
# The runtime follows the platform's routing within a second.
ROUTING_SECONDS = 1.5


@pytest.fixture(scope="module")
def primary(cluster, platform_db, tenant_server):
    # Only this module's move sends a tenant there.
    with registered_server(platform_db, PRIMARY, cluster["port"], open_to_new=False) as server:
        yield server


@pytest.fixture(scope="module")
def standby(cluster, primary):
    # Made after the server was prepared: the platform's role and the
    # closed databases come with the copy, as on any replica of it.
    with pg_standby(cluster, "replica") as made:
        yield made


@pytest.fixture(scope="module")
def tenant(primary, cli, tenant_server, credentials_dir):
    provision(cli, CODE)
    moved = cli("move-server", "--code", CODE, "--server", PRIMARY, "--grace-hours", "0")
    assert moved.returncode == 0, moved.stdout + moved.stderr
    return tenant_login(tenant_server, CODE, credentials_dir, timeout=30)


def set_replica(cli, *args):
    return cli("set-replica", "--server", PRIMARY, *args)


def replica_row(platform_db):
    return query(
        platform_db,
        "SELECT replica_host, NULLIF(replica_port, 0), replica_max_lag, replica_state "
        "FROM ipai_tenant_server WHERE name = %s",
        [PRIMARY],
    )[0]


def named(rpc, name):
    """How many partners called ``name`` the tenant sees: a read-only call."""
    return rpc.call("res.partner", "search_count", [("name", "=", name)])


def replayed(standby, database, name):
    [(count,)] = on_cluster(
        standby, "SELECT count(*) FROM res_partner WHERE name = %s", [name], dbname=database
    )
    return count


def wait_until(condition, timeout=20):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_only_a_reachable_standby_is_named_a_replica(cli, cluster, primary, platform_db):
    before = replica_row(platform_db)
    # The primary itself is no standby; nothing listens on port 1.
    for port, said in ((cluster["port"], "no standby"), (1, "was not set")):
        result = set_replica(cli, "--host", "127.0.0.1", "--port", str(port))
        assert result.returncode == 2, result.stdout + result.stderr
        assert said in result.stderr
    result = set_replica(cli, "--host", "127.0.0.1", "--max-lag", "0")
    assert result.returncode == 2 and "--max-lag must be positive" in result.stderr
    assert replica_row(platform_db) == before == (None, None, 30, None)


def test_reads_come_from_the_replica_and_writes_reach_the_primary(
    cli, standby, tenant, platform_db
):
    database = query(platform_db, "SELECT database_name FROM ipai_tenant WHERE code = %s", [CODE])
    database = database[0][0]
    result = set_replica(cli, "--host", "127.0.0.1", "--port", str(standby["port"]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "replica 127.0.0.1" in result.stdout and " ok," in result.stdout
    assert replica_row(platform_db) == ("127.0.0.1", standby["port"], 30, "ok")
    time.sleep(ROUTING_SECONDS)

    tenant.call("res.partner", "create", {"name": "Replayed"})
    wait_until(lambda: replayed(standby, database, "Replayed") == 1)
    # The replica stops replaying: what is written now reaches the primary
    # only, and a read that answers without it was served by the replica.
    on_cluster(standby, "SELECT pg_wal_replay_pause()")
    try:
        tenant.call("res.partner", "create", {"name": "Written While Paused"})
        assert named(tenant, "Replayed") == 1
        assert named(tenant, "Written While Paused") == 0, "the read came from the primary"
        # Further behind than the limit (1 s now): reads go to the primary.
        result = set_replica(
            cli, "--host", "127.0.0.1", "--port", str(standby["port"]), "--max-lag", "1"
        )
        assert result.returncode == 0, result.stdout + result.stderr
        time.sleep(ROUTING_SECONDS)
        wait_until(lambda: named(tenant, "Written While Paused") == 1)
    finally:
        on_cluster(standby, "SELECT pg_wal_replay_resume()")
    wait_until(lambda: replayed(standby, database, "Written While Paused") == 1)


def test_reads_and_writes_go_on_when_the_replica_goes_away(cli, standby, tenant, platform_db):
    result = set_replica(
        cli, "--host", "127.0.0.1", "--port", str(standby["port"]), "--max-lag", "30"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    time.sleep(ROUTING_SECONDS)
    assert named(tenant, "Replayed") == 1
    subprocess.run(
        ["pg_ctlcluster", standby["version"], standby["name"], "stop", "-m", "immediate"],
        check=True,
        capture_output=True,
    )
    try:
        # Not one request fails: each read finds the replica gone and is
        # served by the primary, which also takes the writes.
        for number in range(5):
            tenant.call("res.partner", "create", {"name": f"After The Replica {number}"})
            assert named(tenant, f"After The Replica {number}") == 1
        listed = cli("list-servers")
        assert f"{PRIMARY}: replica 127.0.0.1:{standby['port']} unreachable" in listed.stdout
    finally:
        subprocess.run(
            ["pg_ctlcluster", standby["version"], standby["name"], "start"],
            check=True,
            capture_output=True,
        )
    result = set_replica(cli, "--host", "")
    assert result.returncode == 0, result.stdout + result.stderr
    assert replica_row(platform_db) == (None, None, 30, None)


def test_a_provider_names_or_removes_no_replica(
    admin_rpc, platform_server, primary, standby, platform_db
):
    _provider, manager = provider_with_manager(
        admin_rpc, platform_server, "rp-prov", "RP Provider", "rp-manager"
    )
    before = replica_row(platform_db)
    for call in (
        lambda: manager.call(
            "ipai.tenant.server",
            "write",
            [primary],
            {"replica_host": "127.0.0.1", "replica_port": standby["port"]},
        ),
        lambda: manager.call("ipai.tenant.server", "action_remove_replica", [primary]),
        lambda: manager.call(
            "ipai.tenant.server.replica",
            "create",
            {"server_id": primary, "host": "127.0.0.1", "port": standby["port"]},
        ),
    ):
        with pytest.raises(RpcError):
            call()
    assert replica_row(platform_db) == before
