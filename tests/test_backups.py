"""Backups and restores end to end: the operator's command line, real
pg_dump/pg_restore, real filestores, tenants served by the tenant runtime
and used over JSON-RPC by their own administrators."""

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import requests

from .support import (
    FILESTORE,
    RUN_ID,
    TENANT_DB_PREFIX,
    JsonRpc,
    RpcError,
    admin_password,
    database_exists,
    drop_database,
    odoo_bin,
    paused_cron,
    provision,
    query,
    stock_odoo,
    tenant_login,
    tenant_row,
    wait_for_page,
)

ATTACHMENT_BYTES = b"ipai backup test: the attachment's own bytes\n" * 50


def backups_of(platform_db, code):
    return query(
        platform_db,
        """SELECT b.id, b.kind, b.folder, b.dump_sha256, b.filestore_sha256, b.row_counts
             FROM ipai_tenant_backup b JOIN ipai_tenant t ON t.id = b.tenant_id
            WHERE t.code = %s ORDER BY b.id""",
        [code],
    )


def take_backup(cli, platform_db, code):
    result = cli("backup", "--code", code)
    assert result.returncode == 0, result.stdout + result.stderr
    backup_id = int(re.search(r"backup:\s+(\d+)", result.stdout).group(1))
    assert backups_of(platform_db, code)[-1][0] == backup_id
    return backup_id


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def keeper(cli, platform_db, tenant_server, credentials_dir):
    """A tenant with a partner and an attachment (a file in its filestore),
    backed up once."""
    provision(cli, "keeper")
    session = tenant_login(tenant_server, "keeper", credentials_dir, timeout=30)
    session.call("res.partner", "create", {"name": "Backup Marker Ltd"})
    attachment_id = session.call(
        "ir.attachment",
        "create",
        {"name": "contract.txt", "datas": base64.b64encode(ATTACHMENT_BYTES).decode()},
    )
    backup_id = take_backup(cli, platform_db, "keeper")
    return {"session": session, "attachment": attachment_id, "backup": backup_id}


def test_a_backup_records_checksums_and_row_counts(keeper, cli, platform_db):
    [(backup_id, kind, folder, dump_sha, files_sha, counts)] = [
        row for row in backups_of(platform_db, "keeper") if row[0] == keeper["backup"]
    ]
    assert kind == "manual"
    assert sha256(Path(folder) / "database.dump") == dump_sha
    assert sha256(Path(folder) / "filestore.tar.gz") == files_sha
    database = TENANT_DB_PREFIX + "keeper"
    assert counts["res_partner"] == query(database, "SELECT count(*) FROM res_partner")[0][0]
    assert counts["ir_attachment"] == query(database, "SELECT count(*) FROM ir_attachment")[0][0]
    listing = cli("list-backups", "--code", "keeper")
    assert listing.returncode == 0 and re.search(
        rf"^\s*{backup_id}\s+keeper\s", listing.stdout, re.M
    )


def test_a_backup_exports_as_an_odoo_zip_that_a_stock_odoo_restores(
    keeper, cli, credentials_dir, tmp_path
):
    """The customer takes its data away: `make export-backup` writes Odoo's
    own backup zip; a stock Odoo 18 loads it (`odoo-bin db load`), and the
    tenant's admin logs in there and finds its partner and its file."""
    out = tmp_path / "keeper.zip"
    result = cli("export-backup", "--backup", str(keeper["backup"]), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
    assert "dump.sql" in names and any(name.startswith("filestore/") for name in names)
    assert manifest["major_version"] == "18.0" and "base" in manifest["modules"]
    stock_db = f"{RUN_ID}_stock_keeper"
    stock = stock_odoo(stock_db)
    command = [sys.executable, str(odoo_bin()), "db", "-c", str(stock._config_file())]
    load = subprocess.run(
        [*command, "load", stock_db, str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        assert load.returncode == 0, load.stdout + load.stderr
        stock.start()
        rpc = JsonRpc(
            stock.url, stock_db, "admin@keeper.example", admin_password(credentials_dir, "keeper")
        )
        assert rpc.call("res.partner", "search_count", [("name", "=", "Backup Marker Ltd")]) == 1
        [attachment] = rpc.call("ir.attachment", "read", [keeper["attachment"]], ["datas"])
        assert base64.b64decode(attachment["datas"]) == ATTACHMENT_BYTES
    finally:
        stock.stop()
        drop_database(stock_db)
        shutil.rmtree(FILESTORE / stock_db, ignore_errors=True)


def test_restore_into_a_new_tenant_carries_data_and_files_not_credentials(
    keeper, cli, platform_db, tenant_server, credentials_dir, artifacts
):
    result = cli("restore", "--backup", str(keeper["backup"]), "--code", "keeper-copy")
    (artifacts / "restore-tenant.txt").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    assert tenant_row(platform_db, "keeper-copy")[0] == "active"
    copy = tenant_login(
        tenant_server, "keeper-copy", credentials_dir, admin_code="keeper", timeout=30
    )
    assert copy.call("res.partner", "search_count", [("name", "=", "Backup Marker Ltd")]) == 1
    [attachment] = copy.call(
        "ir.attachment", "search_read", [("name", "=", "contract.txt")], ["datas", "store_fname"]
    )
    assert base64.b64decode(attachment["datas"]) == ATTACHMENT_BYTES
    stored = FILESTORE / (TENANT_DB_PREFIX + "keeper-copy") / attachment["store_fname"]
    assert stored.read_bytes() == ATTACHMENT_BYTES
    # Replies to the copy's mail go to the copy, not to the source: every
    # company and alias has the copy's own host as its domain.
    domains = query(
        TENANT_DB_PREFIX + "keeper-copy",
        """SELECT DISTINCT d.name FROM mail_alias_domain d
            WHERE d.id IN (SELECT alias_domain_id FROM res_company
                           UNION SELECT alias_domain_id FROM mail_alias)""",
    )
    assert domains == [("keeper-copy.localhost",)], domains

    # Nothing of the source's credentials: its admin password opens nothing
    # here, the copy has its own identity, role and password hash.
    with pytest.raises(RpcError):
        JsonRpc(
            tenant_server.url,
            TENANT_DB_PREFIX + "keeper-copy",
            "admin@keeper.example",
            admin_password(credentials_dir, "keeper"),
            host="keeper-copy.localhost",
        )

    def identity(code):
        database = TENANT_DB_PREFIX + code
        params = dict(query(database, "SELECT key, value FROM ir_config_parameter"))
        [(hashed,)] = query(database, "SELECT password FROM res_users WHERE login LIKE 'admin@%%'")
        [(owner,)] = query(
            database, "SELECT tableowner FROM pg_tables WHERE tablename = 'res_partner'"
        )
        return params, hashed, owner

    source_params, source_hash, source_owner = identity("keeper")
    copy_params, copy_hash, copy_owner = identity("keeper-copy")
    assert copy_params["database.uuid"] != source_params["database.uuid"]
    assert copy_params["database.secret"] != source_params["database.secret"]
    assert copy_params["database.is_neutralized"].lower() == "true"
    assert copy_params["web.base.url"].startswith("http://keeper-copy.localhost")
    assert copy_params["ipai_tenant.code"] == "keeper-copy"
    assert copy_hash != source_hash
    assert copy_owner != source_owner
    assert not query(
        "postgres",
        "SELECT has_database_privilege(%s, %s, 'CONNECT')",
        [source_owner, TENANT_DB_PREFIX + "keeper-copy"],
    )[0][0]


def test_a_suspended_tenant_is_backed_up(keeper, cli, platform_db):
    assert cli("suspend", "--code", "keeper-copy").returncode == 0
    try:
        take_backup(cli, platform_db, "keeper-copy")
        assert tenant_row(platform_db, "keeper-copy")[0] == "suspended"
    finally:
        assert cli("reactivate", "--code", "keeper-copy").returncode == 0


def test_in_place_restore_returns_the_earlier_data_behind_a_maintenance_page(
    keeper, cli, platform_db, tenant_server, credentials_dir
):
    session = keeper["session"]
    session.call("res.partner", "create", {"name": "Made After The Backup"})
    [marker] = session.call("res.partner", "search", [("name", "=", "Backup Marker Ltd")])
    session.call("res.partner", "unlink", [marker])
    routing = (
        "SELECT host, database_name, state, tenant_role, plan_code, modules "
        "FROM ipai_tenant_routing WHERE host LIKE 'keeper.%%'"
    )
    routing_before = query(platform_db, routing)

    with paused_cron(platform_db, "ir_cron_run_tenant_jobs"):
        killed = cli(
            "restore",
            "--backup",
            str(keeper["backup"]),
            env={"IPAI_FAILPOINT": "after:enter_maintenance"},
        )
        assert killed.returncode == -9, killed.stdout + killed.stderr
        assert tenant_row(platform_db, "keeper")[0] == "maintenance"
        page = wait_for_page(tenant_server, "keeper.localhost", "Workspace under maintenance")
        assert page.status_code == 503
        # Only the platform's smoke check passes, with a token derived for
        # this database from the runtime's secret: a made-up one does not.
        forged = requests.get(
            f"{tenant_server.url}/web/login",
            headers={"Host": "keeper.localhost", "X-Ipai-Smoke-Check": "x" * 43},
            timeout=30,
        )
        assert forged.status_code == 503 and "Workspace under maintenance" in forged.text
        with pytest.raises(RpcError, match="restored or upgraded"):
            session.call("res.partner", "search_count", [])
        resumed = cli("run-jobs")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert tenant_row(platform_db, "keeper")[0] == "active"
    again = tenant_login(tenant_server, "keeper", credentials_dir, timeout=30)
    assert again.call("res.partner", "search_count", [("name", "=", "Backup Marker Ltd")]) == 1
    assert again.call("res.partner", "search_count", [("name", "=", "Made After The Backup")]) == 0
    assert query(platform_db, routing) == routing_before
    kinds = [row[1] for row in backups_of(platform_db, "keeper")]
    assert kinds[-1] == "pre_restore", "a safety backup is taken first"
    database = TENANT_DB_PREFIX + "keeper"
    assert not database_exists(database + "_restoring")
    assert not database_exists(database + "_replaced")
    assert not (FILESTORE / (database + "_replaced")).exists()


def corrupt(path):
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 0xFF
    Path(path).write_bytes(bytes(data))


def test_a_corrupted_dump_is_refused_before_anything_is_touched(keeper, cli, platform_db):
    backup_id = take_backup(cli, platform_db, "keeper")
    folder = Path(backups_of(platform_db, "keeper")[-1][2])
    corrupt(folder / "database.dump")
    tenants_before = query(platform_db, "SELECT id, code, state FROM ipai_tenant ORDER BY id")
    jobs_before = query(platform_db, "SELECT count(*) FROM ipai_tenant_job")
    # This run's databases only: other runs share the cluster.
    databases = (
        "SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY 1",
        [RUN_ID + "\\_%"],
    )
    databases_before = query("postgres", *databases)
    for args in (("--code", "keeper-bad"), ()):
        result = cli("restore", "--backup", str(backup_id), *args)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "does not match its recorded checksum" in result.stderr
    (folder / "database.dump").unlink()
    result = cli("restore", "--backup", str(backup_id))
    assert result.returncode == 2 and "is missing" in result.stderr
    assert (
        query(platform_db, "SELECT id, code, state FROM ipai_tenant ORDER BY id") == tenants_before
    )
    assert query(platform_db, "SELECT count(*) FROM ipai_tenant_job") == jobs_before
    assert query("postgres", *databases) == databases_before


@pytest.mark.parametrize(
    "failpoint", ["during:restore_scratch", "after:restore_scratch", "after:swap_in"]
)
def test_killed_during_a_restore_into_a_new_tenant_it_resumes(
    failpoint, keeper, cli, platform_db, tenant_server, credentials_dir
):
    code = "kill-" + failpoint.replace(":", "-").replace("_", "-")
    with paused_cron(platform_db, "ir_cron_run_tenant_jobs"):
        killed = cli(
            "restore",
            "--backup",
            str(keeper["backup"]),
            "--code",
            code,
            env={"IPAI_FAILPOINT": failpoint},
        )
        assert killed.returncode == -9, killed.stdout + killed.stderr
        resumed = cli("run-jobs")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert tenant_row(platform_db, code)[0] == "active"
    assert cli("reveal-password", "--code", code).returncode == 0
    copy = tenant_login(tenant_server, code, credentials_dir, admin_code="keeper", timeout=30)
    assert copy.call("res.partner", "search_count", [("name", "=", "Backup Marker Ltd")]) == 1
    assert not database_exists(TENANT_DB_PREFIX + code + "_restoring")


def test_killed_during_an_in_place_restore_whose_backup_then_breaks_it_is_undone(
    cli, platform_db, tenant_server, credentials_dir
):
    """Killed half-way through replaying the backup beside the database;
    before the job resumes, the backup's dump is damaged: the resumed restore
    checks it again, refuses, drops what it made and puts the tenant back in
    service on its own, untouched data."""
    provision(cli, "undone")
    session = tenant_login(tenant_server, "undone", credentials_dir, timeout=30)
    backup_id = take_backup(cli, platform_db, "undone")
    session.call("res.partner", "create", {"name": "Still Here After The Undo"})
    with paused_cron(platform_db, "ir_cron_run_tenant_jobs"):
        killed = cli(
            "restore", "--backup", str(backup_id), env={"IPAI_FAILPOINT": "during:restore_scratch"}
        )
        assert killed.returncode == -9, killed.stdout + killed.stderr
        database = TENANT_DB_PREFIX + "undone"
        assert database_exists(database + "_restoring")
        [(folder,)] = query(
            platform_db, "SELECT folder FROM ipai_tenant_backup WHERE id = %s", [backup_id]
        )
        corrupt(Path(folder) / "database.dump")
        resumed = cli("run-jobs")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    [(state, error)] = query(
        platform_db,
        "SELECT state, error FROM ipai_tenant_job WHERE id = "
        "(SELECT max(id) FROM ipai_tenant_job WHERE job_type = 'restore')",
    )
    assert state == "failed" and "checksum" in error, error
    assert tenant_row(platform_db, "undone")[0] == "active"
    assert not database_exists(database + "_restoring")
    assert not (FILESTORE / (database + "_restoring")).exists()
    again = tenant_login(tenant_server, "undone", credentials_dir, timeout=30)
    assert again.call("res.partner", "search_count", [("name", "=", "Still Here After The Undo")])


def test_a_restore_test_proves_a_backup_and_a_mismatch_is_put_before_the_platform(
    keeper, cli, platform_db
):
    result = cli("test-restore", "--backup", str(keeper["backup"]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" in result.stdout
    assert "the registry loads in a separate Odoo process" in result.stdout
    assert "row counts match" in result.stdout
    assert not query(
        "postgres", "SELECT 1 FROM pg_database WHERE datname LIKE %s", ["%restore\\_check%"]
    )
    # The recorded counts no longer match what the dump holds.
    query(
        platform_db,
        """UPDATE ipai_tenant_backup
              SET row_counts = jsonb_set(row_counts::jsonb, '{res_partner}',
                                         to_jsonb((row_counts->>'res_partner')::int + 1))
            WHERE id = %s""",
        [keeper["backup"]],
    )
    result = cli("test-restore", "--backup", str(keeper["backup"]))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "failed" in result.stdout and "Row counts differ: res_partner" in result.stdout
    [(state, message)] = query(
        platform_db,
        "SELECT test_state, test_message FROM ipai_tenant_backup WHERE id = %s",
        [keeper["backup"]],
    )
    assert state == "failed" and "Row counts differ" in message
    activities = query(
        platform_db,
        """SELECT u.login, a.summary FROM mail_activity a JOIN res_users u ON u.id = a.user_id
            WHERE a.res_model = 'ipai.tenant.backup' AND a.res_id = %s""",
        [keeper["backup"]],
    )
    assert ("admin", f"Restore test failed: {backup_name(platform_db, keeper['backup'])}") in (
        activities
    ), activities
    assert not query(
        "postgres", "SELECT 1 FROM pg_database WHERE datname LIKE %s", ["%restore\\_check%"]
    )


def backup_name(platform_db, backup_id):
    return query(platform_db, "SELECT name FROM ipai_tenant_backup WHERE id = %s", [backup_id])[0][
        0
    ]
