"""Moving tenants between database servers, on a second PostgreSQL cluster
this module makes (Debian's pg_createcluster) and the real job runner:
a tenant moves with its rows and sequences and is served from there; while
its copy is made it shows the maintenance page and its role cannot open
the source at all (nothing is written that the copy would miss); a run
killed in the copy or inside the switch resumes; a move that cannot finish
leaves it on its server, writable, with nothing left on the target; the
old database is kept for its grace and then dropped; a drain moves every
tenant off a server and closes it; and a provider cannot move anything."""

import re

import psycopg2
import pytest

from .conftest import TENANT_DB_PREFIX
from .support import (
    RpcError,
    connect_as,
    database_exists,
    on_cluster,
    paused_cron,
    provider_with_manager,
    provision,
    query,
    registered_server,
    role_password,
    server_of,
    set_params,
    tenant_login,
    wait_for_page,
)

TARGET = "mv-target"


@pytest.fixture(scope="module")
def target(cluster, platform_db, tenant_server):
    # Closed to signups: this module's tenants are made on the main server,
    # and only a platform manager's move sends one there.
    with registered_server(platform_db, TARGET, cluster["port"], open_to_new=False) as server_id:
        # A move asks the runtime for the tenant's login page once switched.
        set_params(platform_db, {"ipai_tenant_core.runtime_url": tenant_server.url})
        yield server_id


def on_target(cluster, database):
    return bool(on_cluster(cluster, "SELECT 1 FROM pg_database WHERE datname = %s", [database]))


def partners_named(cluster, database, name):
    [(count,)] = on_cluster(
        cluster, "SELECT count(*) FROM res_partner WHERE name = %s", [name], dbname=database
    )
    return count


def move(cli, code, server=TARGET, grace="0", env=None):
    return cli("move-server", "--code", code, "--server", server, "--grace-hours", grace, env=env)


def role_on_main(platform_db, code):
    [(role,)] = query(platform_db, "SELECT runtime_role FROM ipai_tenant WHERE code = %s", [code])
    return bool(query("postgres", "SELECT 1 FROM pg_roles WHERE rolname = %s", [role]))


def tenant_with_partner(cli, tenant_server, credentials_dir, code, name):
    """A new tenant with a partner ``name``: its database and admin session."""
    provision(cli, code)
    rpc = tenant_login(tenant_server, code, credentials_dir)
    rpc.call("res.partner", "create", {"name": name})
    return TENANT_DB_PREFIX + code, rpc


def test_a_tenant_moves_with_its_data_and_is_served_from_the_new_server(
    target, cluster, cli, platform_db, tenant_server, credentials_dir
):
    database, _session = tenant_with_partner(
        cli, tenant_server, credentials_dir, "mv-one", "Before The Move"
    )

    result = move(cli, "mv-one")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "in maintenance for about" in result.stdout  # the estimate, before the job
    assert "Compare the copy with the source ... done" in result.stdout
    assert server_of(platform_db, "mv-one") == TARGET
    assert on_target(cluster, database) and not database_exists(database)
    assert not role_on_main(platform_db, "mv-one"), "the source's role went with it"

    again = tenant_login(tenant_server, "mv-one", credentials_dir, timeout=30)
    assert again.call("res.partner", "search_count", [("name", "=", "Before The Move")]) == 1
    # Sequences came along: a new row takes a new id, on the target.
    again.call("res.partner", "create", {"name": "After The Move"})
    assert partners_named(cluster, database, "After The Move") == 1
    [(state,)] = query(platform_db, "SELECT state FROM ipai_tenant WHERE code = 'mv-one'")
    assert state == "active"


def test_a_tenant_on_another_server_is_backed_up_restored_cloned_and_upgraded(
    target, cluster, cli, platform_db, tenant_server, credentials_dir
):
    """mv-one, moved to the target by the test above, gets what every
    tenant gets: a backup restored as a new tenant (placed on the main
    server), a clone with its data (made next to its source), an upgrade."""
    assert server_of(platform_db, "mv-one") == TARGET
    backup = cli("backup", "--code", "mv-one")
    assert backup.returncode == 0, backup.stdout + backup.stderr
    [(backup_id,)] = query(
        platform_db,
        "SELECT max(b.id) FROM ipai_tenant_backup b JOIN ipai_tenant t ON t.id = b.tenant_id "
        "WHERE t.code = 'mv-one'",
    )
    restored = cli("restore", "--backup", str(backup_id), "--code", "mv-one-back")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert server_of(platform_db, "mv-one-back") != TARGET
    back = tenant_login(
        tenant_server, "mv-one-back", credentials_dir, admin_code="mv-one", timeout=30
    )
    assert back.call("res.partner", "search_count", [("name", "=", "Before The Move")]) == 1

    cloned = cli("clone", "--source", "mv-one", "--code", "mv-one-twin", "--data")
    assert cloned.returncode == 0, cloned.stdout + cloned.stderr
    assert server_of(platform_db, "mv-one-twin") == TARGET
    assert partners_named(cluster, TENANT_DB_PREFIX + "mv-one-twin", "Before The Move") == 1

    upgraded = cli("upgrade-tenants", "--modules", "base", "--tenants", "mv-one")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert re.search(r"^mv-one\s+upgraded\s", upgraded.stdout, re.M), upgraded.stdout
    rpc = tenant_login(tenant_server, "mv-one", credentials_dir, timeout=30)
    assert rpc.call("res.partner", "search_count", [("name", "=", "Before The Move")]) == 1
    # The twin leaves the target before the drain test empties it.
    dropped = cli("drop", "--code", "mv-one-twin")
    assert dropped.returncode == 0, dropped.stdout + dropped.stderr
    assert not on_target(cluster, TENANT_DB_PREFIX + "mv-one-twin")


def test_nothing_reaches_the_source_during_the_copy_and_a_killed_run_resumes(
    target, cluster, cli, platform_db, tenant_server, credentials_dir
):
    database, session = tenant_with_partner(
        cli, tenant_server, credentials_dir, "mv-two", "Kept Through A Kill"
    )
    [(role,)] = query(platform_db, "SELECT runtime_role FROM ipai_tenant WHERE code = 'mv-two'")
    with paused_cron(platform_db, "ir_cron_run_tenant_jobs"):
        killed = move(cli, "mv-two", env={"IPAI_FAILPOINT": "during:copy_to_target"})
        assert killed.returncode == -9, killed.stdout + killed.stderr
        # Dumped, nothing on the target yet: the maintenance page, and the
        # tenant's own role (as SQL run by its admin would hold it) cannot
        # open its database to write what the copy would miss.
        assert server_of(platform_db, "mv-two") != TARGET
        page = wait_for_page(tenant_server, "mv-two.localhost", "Workspace under maintenance")
        assert page.status_code == 503
        with pytest.raises(RpcError):
            session.call("res.partner", "create", {"name": "Written During The Copy"})
        with pytest.raises(psycopg2.OperationalError, match="permission denied"):
            connect_as(database, role, role_password(role))
        resumed = cli("run-jobs")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert server_of(platform_db, "mv-two") == TARGET
    assert not database_exists(database)
    after = tenant_login(tenant_server, "mv-two", credentials_dir, timeout=30)
    assert after.call("res.partner", "search_count", [("name", "=", "Kept Through A Kill")]) == 1
    assert (
        after.call("res.partner", "search_count", [("name", "=", "Written During The Copy")]) == 0
    )
    after.call("res.partner", "create", {"name": "Written After"})
    assert partners_named(cluster, database, "Written After") == 1


def test_a_run_killed_inside_the_switch_finishes_on_the_target(
    target, cluster, cli, platform_db, tenant_server, credentials_dir
):
    provision(cli, "mv-four")
    with paused_cron(platform_db, "ir_cron_run_tenant_jobs"):
        killed = move(cli, "mv-four", env={"IPAI_FAILPOINT": "during:switch_to_target"})
        assert killed.returncode == -9, killed.stdout + killed.stderr
        resumed = cli("run-jobs")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert server_of(platform_db, "mv-four") == TARGET
    assert not database_exists(TENANT_DB_PREFIX + "mv-four")
    rpc = tenant_login(tenant_server, "mv-four", credentials_dir, timeout=30)
    rpc.call("res.partner", "create", {"name": "Switched"})


def test_a_move_that_cannot_finish_leaves_the_tenant_writable_where_it_was(
    target, cluster, cli, platform_db, tenant_server, credentials_dir
):
    """Someone else's database of the same name on the target: refused in
    the first step; the tenant never stopped writing, the foreign database
    is untouched. Then a target that goes away during the copy: undone."""
    provision(cli, "mv-three")
    database = TENANT_DB_PREFIX + "mv-three"
    on_cluster(cluster, f'CREATE DATABASE "{database}"')
    on_cluster(cluster, "CREATE TABLE foreign_marker (id int)", dbname=database)
    try:
        result = move(cli, "mv-three")
        assert result.returncode != 0
        assert "already has a database named" in result.stdout + result.stderr
        assert server_of(platform_db, "mv-three") != TARGET
        assert on_cluster(cluster, "SELECT count(*) FROM foreign_marker", dbname=database) == [(0,)]
        rpc = tenant_login(tenant_server, "mv-three", credentials_dir, timeout=30)
        rpc.call("res.partner", "create", {"name": "Still Writable"})
        [(state,)] = query(platform_db, "SELECT state FROM ipai_tenant WHERE code = 'mv-three'")
        assert state == "active"
    finally:
        on_cluster(cluster, f'DROP DATABASE "{database}" WITH (FORCE)')

    # The target refuses the tenant's role's copy half-way (its database
    # is taken by a connection limit of 0 right after it is made): undone.
    with paused_cron(platform_db, "ir_cron_run_tenant_jobs"):
        killed = move(cli, "mv-three", env={"IPAI_FAILPOINT": "during:copy_to_target"})
        assert killed.returncode == -9
        [(role,)] = query(
            platform_db, "SELECT runtime_role FROM ipai_tenant WHERE code = 'mv-three'"
        )
        on_cluster(cluster, f'ALTER ROLE "{role}" CONNECTION LIMIT 0')
        try:
            failed = cli("run-jobs")
        finally:
            on_cluster(
                cluster,
                f"DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}')"
                f' THEN ALTER ROLE "{role}" CONNECTION LIMIT -1; END IF; END $$',
            )
    assert "1 job(s) processed" in failed.stdout, failed.stdout + failed.stderr
    [(job_state, error)] = query(
        platform_db,
        "SELECT j.state, j.error FROM ipai_tenant_job j JOIN ipai_tenant t ON t.id = j.tenant_id"
        " WHERE t.code = 'mv-three' ORDER BY j.id DESC LIMIT 1",
    )
    assert job_state == "failed", error
    assert "pg_restore failed" in error and "open to the tenant again" in error
    assert server_of(platform_db, "mv-three") != TARGET
    assert not on_target(cluster, database)
    assert not on_cluster(cluster, "SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    rpc = tenant_login(tenant_server, "mv-three", credentials_dir, timeout=30)
    rpc.call("res.partner", "create", {"name": "Writable After The Undo"})


def test_the_old_database_is_kept_for_its_grace_then_dropped(
    target, cluster, cli, platform_db, admin_rpc, tenant_server, credentials_dir
):
    """mv-one goes back to the main server, keeping its copy on the target
    for an hour: read-only there, listed, dropped by the cron once due."""
    database = TENANT_DB_PREFIX + "mv-one"
    [(local,)] = query(
        platform_db,
        "SELECT s.name FROM ipai_tenant_server s JOIN ir_model_data d ON d.res_id = s.id"
        " WHERE d.model = 'ipai.tenant.server' AND d.name = 'server_local'",
    )
    result = move(cli, "mv-one", server=local, grace="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert database_exists(database) and on_target(cluster, database)
    [(role,)] = query(platform_db, "SELECT runtime_role FROM ipai_tenant WHERE code = 'mv-one'")
    assert on_cluster(
        cluster, "SELECT has_database_privilege(%s, %s, 'CONNECT')", [role, database]
    ) == [(False,)], "the source kept is closed to the tenant"
    rpc = tenant_login(tenant_server, "mv-one", credentials_dir, timeout=30)
    assert rpc.call("res.partner", "search_count", [("name", "=", "After The Move")]) == 1
    query(
        platform_db,
        "UPDATE ipai_tenant_moved_source SET drop_after = now() - interval '1 minute'",
    )
    [cron_id] = admin_rpc.call(
        "ir.model.data",
        "search_read",
        [("module", "=", "ipai_tenant_data_safety"), ("name", "=", "ir_cron_drop_moved_sources")],
        ["res_id"],
    )
    admin_rpc.call("ir.cron", "method_direct_trigger", [cron_id["res_id"]])
    assert not on_target(cluster, database)
    assert database_exists(database)
    assert query(platform_db, "SELECT count(*) FROM ipai_tenant_moved_source") == [(0,)]


def test_a_drain_moves_every_tenant_off_and_closes_the_server(
    target, cluster, cli, admin_rpc, platform_db, tenant_server, credentials_dir
):
    on_it = [code for code in ("mv-two", "mv-four") if server_of(platform_db, code) == TARGET]
    assert len(on_it) == 2
    # Room for one of them elsewhere: the first move queued holds that
    # place, so the second finds none, and the drain changes nothing.
    [other] = admin_rpc.call(
        "ipai.tenant.server", "search_read", [("id", "!=", target)], ["tenant_count", "capacity"]
    )
    admin_rpc.call(
        "ipai.tenant.server", "write", [other["id"]], {"capacity": other["tenant_count"] + 1}
    )
    try:
        refused = cli("drain-server", "--server", TARGET, "--grace-hours", "0")
    finally:
        admin_rpc.call(
            "ipai.tenant.server", "write", [other["id"]], {"capacity": other["capacity"]}
        )
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "No other server takes" in refused.stderr
    assert not query(
        platform_db,
        "SELECT 1 FROM ipai_tenant_job WHERE job_type = 'move_server' AND state = 'queued'",
    ), "no move was left queued"
    with paused_cron(platform_db, "ir_cron_run_tenant_jobs"):
        drained = cli("drain-server", "--server", TARGET, "--grace-hours", "0")
        assert drained.returncode == 0, drained.stdout + drained.stderr
        assert "closed to new tenants" in drained.stdout
        for code in on_it:
            assert f"{code} -> " in drained.stdout
        resumed = cli("run-jobs")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    for code in on_it:
        assert server_of(platform_db, code) != TARGET
        assert not on_target(cluster, TENANT_DB_PREFIX + code)
        rpc = tenant_login(tenant_server, code, credentials_dir, timeout=30)
        rpc.call("res.partner", "create", {"name": "After The Drain"})
    [(open_to_new,)] = query(
        platform_db, "SELECT open_to_new FROM ipai_tenant_server WHERE name = %s", [TARGET]
    )
    assert open_to_new is False
    # Tenants' databases (not a template the fleet upgrade made there).
    tenants_like = TENANT_DB_PREFIX.replace("_", "\\_") + "%"
    left = on_cluster(
        cluster, "SELECT datname FROM pg_database WHERE datname LIKE %s", [tenants_like]
    )
    assert left == []


def test_a_provider_cannot_move_or_drain(target, admin_rpc, platform_server, platform_db, cli):
    """A provider's own tenant, its JSON-RPC calls with any arguments or
    context: refused, and no job queued."""
    provider_id, manager = provider_with_manager(
        admin_rpc, platform_server, "mv-prov", "MV Provider", "mv-manager"
    )
    jobs_before = query(platform_db, "SELECT count(*) FROM ipai_tenant_job")
    for context in ({}, {"default_job_type": "move_server"}):
        with pytest.raises(RpcError, match="Only platform managers"):
            manager.call(
                "ipai.tenant", "action_move_to_server", [provider_id], target, context=context
            )
        with pytest.raises(RpcError):
            manager.call("ipai.tenant.server", "action_drain", [target], context=context)
    with pytest.raises(RpcError):
        manager.call(
            "ipai.tenant.move.server", "create", {"tenant_id": provider_id, "server_id": target}
        )
    assert query(platform_db, "SELECT count(*) FROM ipai_tenant_job") == jobs_before


def test_the_move_form_shows_the_estimate_first(target, admin_rpc, platform_db):
    """The wizard of the tenant form's gear menu, as a platform manager opens
    it: the estimate (or the refusal) before anything is queued."""
    [(tenant_id,)] = query(platform_db, "SELECT id FROM ipai_tenant WHERE code = 'mv-one'")
    jobs_before = query(platform_db, "SELECT count(*) FROM ipai_tenant_job")
    wizard = admin_rpc.call(
        "ipai.tenant.move.server",
        "create",
        {"server_id": target},
        context={"default_tenant_id": tenant_id},
    )
    [shown] = admin_rpc.call("ipai.tenant.move.server", "read", [wizard], ["estimate"])
    assert "mv-one:" in shown["estimate"] and "in maintenance for about" in shown["estimate"]
    assert query(platform_db, "SELECT count(*) FROM ipai_tenant_job") == jobs_before
