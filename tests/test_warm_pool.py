"""The warm pool end to end: ready databases made ahead of time by the
refill command (as the cron does), claimed by signups through the
operator's command line, served by the real tenant runtime."""

import os
from pathlib import Path

import pytest

from .conftest import TENANT_DB_PREFIX
from .support import (
    FILESTORE,
    REPO_ROOT,
    JsonRpc,
    admin_password,
    database_exists,
    paused_cron,
    provision,
    query,
    tenant_row,
)


def pool_members(platform_db, state="ready"):
    return query(
        platform_db,
        "SELECT database_name, role_name FROM ipai_tenant_pool_member WHERE state = %s",
        [state],
    )


def refill(cli, size):
    result = cli("refill-pool", "--plan", "trial", "--size", str(size))
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def steps_of(platform_db, code):
    rows = query(
        platform_db,
        """SELECT s.name FROM ipai_tenant_job_step s
             JOIN ipai_tenant_job j ON j.id = s.job_id
             JOIN ipai_tenant t ON t.id = j.tenant_id
            WHERE t.code = %s AND j.job_type = 'create' ORDER BY s.sequence""",
        [code],
    )
    return [name for (name,) in rows]


@pytest.fixture(scope="module")
def trial_pool(cli, platform_db):
    """Two ready members of the trial plan (the template is built by a first
    ordinary signup: the pool never builds templates)."""
    with paused_cron(platform_db, "ir_cron_refill_pool"):
        provision(cli, "pool-seed")
        refill(cli, 2)
        assert len(pool_members(platform_db)) == 2
        yield
        refill(cli, 0)
        assert not pool_members(platform_db)


def identity(database):
    return dict(
        query(
            database,
            "SELECT key, value FROM ir_config_parameter "
            "WHERE key IN ('database.uuid', 'database.secret', 'web.base.url')",
        )
    )


def owner_of_res_users(database):
    return query(
        database,
        "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'res_users'",
    )[0][0]


def test_ready_members_are_never_routed_nor_listed(trial_pool, cli, platform_db):
    members = pool_members(platform_db)
    names = [database for database, _role in members]
    assert not query(
        platform_db, "SELECT 1 FROM ipai_tenant_routing WHERE database_name = ANY(%s)", [names]
    )
    assert not query(
        platform_db, "SELECT 1 FROM ipai_tenant WHERE database_name = ANY(%s)", [names]
    )
    listed = cli("list")
    assert all(name not in listed.stdout for name in names)
    status = cli("pool-status")
    assert status.returncode == 0 and " 2 " in status.stdout, status.stdout


def test_two_signups_get_distinct_databases_from_the_pool(
    trial_pool, cli, platform_db, tenant_server, credentials_dir
):
    members = pool_members(platform_db)
    provision(cli, "pool-a")
    provision(cli, "pool-b")
    for code in ("pool-a", "pool-b"):
        assert steps_of(platform_db, code)[1] == "adopt_pool_member"
        assert tenant_row(platform_db, code)[0] == "active"
    db_a, db_b = TENANT_DB_PREFIX + "pool-a", TENANT_DB_PREFIX + "pool-b"
    # The members were renamed, not copied: they are gone under their names.
    assert not any(database_exists(database) for database, _role in members)
    assert not query(
        "postgres",
        "SELECT 1 FROM pg_roles WHERE rolname = ANY(%s)",
        [[role for _database, role in members]],
    )
    # Each its own identity, its own role owning its objects, its own URL.
    id_a, id_b = identity(db_a), identity(db_b)
    assert id_a["database.uuid"] != id_b["database.uuid"]
    assert id_a["database.secret"] != id_b["database.secret"]
    assert id_a["web.base.url"].startswith("http://pool-a.localhost")
    roles = query(
        platform_db, "SELECT code, runtime_role FROM ipai_tenant WHERE code LIKE 'pool-_'"
    )
    roles = dict(roles)
    assert owner_of_res_users(db_a) == roles["pool-a"]
    assert owner_of_res_users(db_b) == roles["pool-b"]
    # Its own administrator password, and its own filestore.
    assert admin_password(credentials_dir, "pool-a") != admin_password(credentials_dir, "pool-b")
    store_a, store_b = Path(FILESTORE) / db_a, Path(FILESTORE) / db_b
    assert store_a.is_dir() and store_b.is_dir()
    (store_a / "only-in-a").write_text("a")
    assert not (store_b / "only-in-a").exists()
    for code in ("pool-a", "pool-b"):
        session = JsonRpc(
            tenant_server.url,
            TENANT_DB_PREFIX + code,
            f"admin@{code}.example",
            admin_password(credentials_dir, code),
            host=f"{code}.localhost",
        )
        assert session.uid
        [user] = session.call("res.users", "read", [session.uid], ["login", "name"])
        assert user["login"] == f"admin@{code}.example"


def test_an_empty_pool_falls_back_to_the_template(trial_pool, cli, platform_db):
    while pool_members(platform_db):
        code = f"pool-drain-{len(pool_members(platform_db))}"
        provision(cli, code)
    provision(cli, "pool-dry")
    assert steps_of(platform_db, "pool-dry")[1] == "ensure_template"
    assert tenant_row(platform_db, "pool-dry")[0] == "active"
    refill(cli, 2)  # refilled for the next test
    assert len(pool_members(platform_db)) == 2


def test_an_addon_change_retires_stale_members(trial_pool, cli, platform_db):
    members = pool_members(platform_db)
    assert members
    marker = REPO_ROOT / "addons" / "ipai_tenant_client" / "static" / "ipai-test-marker.txt"
    marker.write_text("a changed addon makes a new template version\n")
    try:
        output = refill(cli, 2)
        assert "0/2 ready" in output, output
        assert not pool_members(platform_db)
        assert not any(database_exists(database) for database, _role in members)
    finally:
        os.unlink(marker)
    refill(cli, 2)  # the old version is current again, and its template ready
    assert len(pool_members(platform_db)) == 2
