"""Attacks on backups, restores and fleet upgrades, made as a provider
manager over plain JSON-RPC against the running platform: another
customer's backup is neither seen nor restored (into a new tenant of the
attacker's or onto its own tenant), backup records are the engine's, and
fleet upgrades are the platform's. Each attack changes nothing."""

import time

import pytest

from ..conftest import TENANT_DB_PREFIX
from ..support import (
    RpcError,
    database_exists,
    provider_manager,
    provider_tenant,
    provision,
    query,
    tenant_row,
)


def snapshot(platform_db):
    return {
        "jobs": query(platform_db, "SELECT id, tenant_id, job_type, state FROM ipai_tenant_job"),
        "tenants": query(platform_db, "SELECT id, code, state FROM ipai_tenant ORDER BY id"),
        "backups": query(
            platform_db,
            "SELECT id, tenant_id, folder, dump_sha256, filestore_sha256 FROM ipai_tenant_backup "
            "ORDER BY id",
        ),
        "runs": query(platform_db, "SELECT count(*) FROM ipai_tenant_upgrade_run"),
        "databases": query("postgres", "SELECT datname FROM pg_database ORDER BY 1"),
    }


def wait_for_job(platform_db, tenant_code, job_type, timeout=120):
    deadline = time.monotonic() + timeout
    select = """SELECT j.state FROM ipai_tenant_job j JOIN ipai_tenant t ON t.id = j.tenant_id
                 WHERE t.code = %s AND j.job_type = %s ORDER BY j.id DESC LIMIT 1"""
    while (rows := query(platform_db, select, [tenant_code, job_type])) and rows[0][0] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline, f"{job_type} of {tenant_code} still {rows[0][0]}"
        time.sleep(0.3)
    return rows[0][0]


@pytest.fixture(scope="module")
def victim_backup(cli, platform_db):
    """Another customer's tenant, backed up by the platform."""
    provision(cli, "bk-victim")
    assert cli("backup", "--code", "bk-victim").returncode == 0
    [(backup_id,)] = query(
        platform_db,
        """SELECT b.id FROM ipai_tenant_backup b JOIN ipai_tenant t ON t.id = b.tenant_id
            WHERE t.code = 'bk-victim'""",
    )
    return backup_id


@pytest.fixture(scope="module")
def provider(admin_rpc, platform_server, platform_db):
    """Provider manager of bk-prov, with one active client backed up by the
    provider's own button."""
    provider_id = provider_tenant(admin_rpc, "bk-prov", "BK Provider")
    manager = provider_manager(admin_rpc, platform_server, provider_id, "bk-manager")
    own = manager.call(
        "ipai.tenant",
        "create",
        {
            "code": "bk-own",
            "name": "BK Own",
            "parent_id": provider_id,
            "admin_email": "a@bk.example",
        },
    )
    manager.call("ipai.tenant", "action_provision", [own])
    assert wait_for_job(platform_db, "bk-own", "create") == "done"
    manager.call("ipai.tenant", "action_backup", [own])
    assert wait_for_job(platform_db, "bk-own", "backup") == "done"
    [own_backup] = manager.call("ipai.tenant.backup", "search", [("tenant_id", "=", own)])
    return manager, own, own_backup


def test_another_customers_backup_is_invisible(provider, victim_backup, platform_db):
    manager, _own, own_backup = provider
    assert manager.call("ipai.tenant.backup", "search", []) == [own_backup]
    assert manager.call("ipai.tenant.backup", "search_count", [("id", "=", victim_backup)]) == 0
    with pytest.raises(RpcError):
        manager.call("ipai.tenant.backup", "read", [victim_backup], ["folder", "dump_sha256"])
    with pytest.raises(RpcError):
        manager.call("ipai.tenant.backup", "action_restore", [victim_backup])


def test_another_customers_backup_cannot_be_restored_anywhere(provider, victim_backup, platform_db):
    manager, own, _own_backup = provider
    before = snapshot(platform_db)
    attempts = (
        {"backup_id": victim_backup, "mode": "new", "code": "bk-stolen", "name": "Stolen"},
        {"backup_id": victim_backup, "mode": "in_place"},
    )
    for values in attempts:
        with pytest.raises(RpcError):
            wizard = manager.call("ipai.tenant.restore", "create", values)
            manager.call("ipai.tenant.restore", "action_restore", [wizard])
    # Nor by the job queue itself: private, and no right to create jobs.
    with pytest.raises(RpcError, match=r"(?i)private"):
        manager.call(
            "ipai.tenant.job",
            "_enqueue",
            own,
            "restore",
            {"backup_id": victim_backup, "mode": "new"},
        )
    with pytest.raises(RpcError):
        manager.call(
            "ipai.tenant.job",
            "create",
            {
                "tenant_id": own,
                "job_type": "restore",
                "params": {"backup_id": victim_backup, "mode": "in_place"},
            },
        )
    assert snapshot(platform_db) == before
    assert not database_exists(TENANT_DB_PREFIX + "bk-stolen")
    assert tenant_row(platform_db, "bk-own")[0] == "active"


def test_backup_records_are_the_engines(provider, victim_backup, platform_db):
    manager, own, own_backup = provider
    before = snapshot(platform_db)
    with pytest.raises(RpcError):
        manager.call("ipai.tenant.backup", "write", [own_backup], {"folder": "/etc"})
    with pytest.raises(RpcError):
        manager.call("ipai.tenant.backup", "write", [own_backup], {"dump_sha256": "0" * 64})
    with pytest.raises(RpcError):
        manager.call("ipai.tenant.backup", "unlink", [own_backup])
    with pytest.raises(RpcError):
        manager.call(
            "ipai.tenant.backup",
            "create",
            {
                "tenant_id": own,
                "kind": "manual",
                "backup_date": "2026-01-01 00:00:00",
                "folder": "/tmp",
                "dump_sha256": "0" * 64,
                "filestore_sha256": "0" * 64,
            },
        )
    assert snapshot(platform_db) == before


def test_fleet_upgrades_are_the_platforms(provider, platform_db):
    manager, own, _own_backup = provider
    before = snapshot(platform_db)
    with pytest.raises(RpcError):
        wizard = manager.call(
            "ipai.tenant.upgrade.wizard",
            "create",
            {"modules": "base", "tenant_ids": [(6, 0, [own])]},
        )
        manager.call("ipai.tenant.upgrade.wizard", "action_start", [wizard])
    with pytest.raises(RpcError):
        manager.call("ipai.tenant.upgrade.run", "create", {"modules": "base"})
    with pytest.raises(RpcError, match=r"(?i)private"):
        manager.call("ipai.tenant.upgrade.run", "_start", None, ["base"], 2)
    assert snapshot(platform_db) == before


def test_a_provider_restores_its_own_backup_into_a_new_tenant_of_its_own(
    provider, platform_db, tenant_server
):
    manager, _own, own_backup = provider
    wizard = manager.call(
        "ipai.tenant.restore",
        "create",
        {"backup_id": own_backup, "mode": "new", "code": "bk-own-copy", "name": "Copy"},
    )
    manager.call("ipai.tenant.restore", "action_restore", [wizard])
    assert wait_for_job(platform_db, "bk-own-copy", "restore") == "done"
    assert tenant_row(platform_db, "bk-own-copy")[0] == "active"
    [copy] = manager.call(
        "ipai.tenant", "search_read", [("code", "=", "bk-own-copy")], ["parent_id"]
    )
    assert copy["parent_id"][1].startswith("BK Provider")
