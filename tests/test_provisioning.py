"""The provisioning engine end to end: the operator's command line, a real
PostgreSQL, real tenant databases served by a real Odoo, logins over
JSON-RPC."""

import os
import subprocess
from contextlib import closing
from pathlib import Path

import psycopg2
import pytest
import requests
from cryptography.fernet import Fernet

from .support import (
    FILESTORE,
    RUN_ID,
    TENANT_DB_PREFIX,
    RpcError,
    admin_password,
    connect_as,
    database_exists,
    pg_connect,
    provision,
    query,
    tenant_login,
    tenant_row,
    wait_for_state,
)


@pytest.fixture(scope="module")
def acme(cli, platform_db):
    """One provisioned tenant shared by the read-only checks."""
    provision(cli, "acme")
    return "acme"


def test_provision_then_log_in_as_the_tenant_admin(
    acme, platform_db, tenant_server, credentials_dir
):
    state, database, _role = tenant_row(platform_db, acme)
    assert (state, database) == ("active", TENANT_DB_PREFIX + "acme")
    session = tenant_login(tenant_server, acme, credentials_dir)
    assert session.uid
    user = session.call("res.users", "read", [session.uid], ["login"])[0]
    assert user["login"] == "admin@acme.example"
    steps = query(
        platform_db,
        """SELECT s.state FROM ipai_tenant_job_step s JOIN ipai_tenant_job j ON j.id = s.job_id
            JOIN ipai_tenant t ON t.id = j.tenant_id WHERE t.code = 'acme'""",
    )
    assert {state for (state,) in steps} == {"done"}


def test_password_file_is_private_and_shown_once(acme, cli, credentials_dir, platform_db):
    path = Path(credentials_dir) / "acme-admin.txt"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    ((token, revealed),) = query(
        platform_db,
        """SELECT token, revealed FROM ipai_tenant_secret s JOIN ipai_tenant t ON t.id = s.tenant_id
            WHERE t.code = 'acme' AND kind = 'admin_password'""",
    )
    assert revealed and admin_password(credentials_dir, "acme") not in token
    assert Fernet(os.environ["IPAI_ENCRYPTION_KEY"]).decrypt(token.encode()).decode() == (
        admin_password(credentials_dir, "acme")
    )


def test_tenant_database_has_its_own_identity_and_settings(acme, platform_db):
    database = TENANT_DB_PREFIX + acme
    params = dict(query(database, "SELECT key, value FROM ir_config_parameter"))
    template = query(platform_db, "SELECT database_name FROM ipai_tenant_template LIMIT 1")[0][0]
    assert params["ipai_tenant.code"] == "acme"
    assert params["ipai_tenant.plan"] == "trial"
    assert params["web.base.url"].startswith("http://acme.localhost")
    assert "database.is_neutralized" not in params
    # A tenant is a production database: its crons run, its mail is not blocked.
    assert query(database, "SELECT count(*) FROM ir_cron WHERE active")[0][0] > 3
    assert not query(database, "SELECT 1 FROM ir_mail_server WHERE name LIKE 'neutralization%%'")
    template_uuid = query(
        "postgres", "SELECT datallowconn FROM pg_database WHERE datname = %s", [template]
    )
    assert template_uuid == [(False,)], "templates are never served"


def test_tenant_role_reaches_its_own_database_only(acme, cli, platform_db):
    provision(cli, "beta")
    key = Fernet(os.environ["IPAI_ENCRYPTION_KEY"])

    def role_and_password(code):
        ((role, token),) = query(
            platform_db,
            """SELECT t.db_role, s.token FROM ipai_tenant t JOIN ipai_tenant_secret s
                 ON s.tenant_id = t.id AND s.kind = 'db_role_password' WHERE t.code = %s""",
            [code],
        )
        return role, key.decrypt(token.encode()).decode()

    role, password = role_and_password("acme")
    with (
        closing(connect_as(TENANT_DB_PREFIX + "acme", role, password)) as conn,
        conn.cursor() as cr,
    ):
        cr.execute("SELECT current_user")
        assert cr.fetchone()[0] == role
    for forbidden in (TENANT_DB_PREFIX + "beta", platform_db):
        with pytest.raises(psycopg2.OperationalError, match="permission denied"):
            connect_as(forbidden, role, password)


def test_bad_input_exits_2_and_changes_nothing(acme, cli, platform_db):
    squatter = TENANT_DB_PREFIX + "squatter"
    with closing(pg_connect()) as conn, conn.cursor() as cr:
        cr.execute(f'CREATE DATABASE "{squatter}"')
        # Closed to PUBLIC like every database of the cluster (the bootstrap
        # closes those that exist, the platform those it makes).
        cr.execute(f'REVOKE CONNECT, TEMPORARY ON DATABASE "{squatter}" FROM PUBLIC')
    tenants_before = query(platform_db, "SELECT count(*) FROM ipai_tenant")
    # Everything the engine makes in a test run is named after the run (conftest).
    run_databases = "SELECT count(*) FROM pg_database WHERE starts_with(datname, %s)"
    databases_before = query("postgres", run_databases, [RUN_ID])
    cases = [
        ("provision", "--code", "Bad_Code"),
        ("provision", "--code", "postgres"),
        ("provision", "--code", "acme"),
        ("provision", "--code", "fresh", "--plan", "no-such-plan"),
        ("provision", "--code", "squatter"),
        ("suspend", "--code", "nobody"),
        ("clone", "--source", "nobody", "--code", "copy"),
    ]
    for args in cases:
        result = cli(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert query(platform_db, "SELECT count(*) FROM ipai_tenant") == tenants_before
    assert query("postgres", run_databases, [RUN_ID]) == databases_before


def test_clone_with_and_without_data(acme, cli, tenant_server, credentials_dir):
    source = tenant_login(tenant_server, acme, credentials_dir)
    source.call("res.partner", "create", {"name": "Clone Marker Ltd"})

    result = cli("clone", "--source", "acme", "--code", "acme-copy", "--data")
    assert result.returncode == 0, result.stdout + result.stderr
    copy = tenant_login(tenant_server, "acme-copy", credentials_dir, admin_code="acme")
    assert copy.call("res.partner", "search_count", [("name", "=", "Clone Marker Ltd")]) == 1

    result = cli("clone", "--source", "acme", "--code", "acme-empty")
    assert result.returncode == 0, result.stdout + result.stderr
    empty = tenant_login(tenant_server, "acme-empty", credentials_dir, admin_code="acme")
    assert empty.call("res.partner", "search_count", [("name", "=", "Clone Marker Ltd")]) == 0

    def identity(code):
        return dict(
            query(
                TENANT_DB_PREFIX + code,
                "SELECT key, value FROM ir_config_parameter WHERE key LIKE 'database.%'",
            )
        )

    assert identity("acme-copy")["database.uuid"] != identity("acme")["database.uuid"]
    assert identity("acme-copy")["database.secret"] != identity("acme")["database.secret"]
    assert identity("acme-copy").get("database.is_neutralized", "").lower() == "true"


def test_suspend_blocks_login_and_reactivate_restores_it(cli, tenant_server, credentials_dir):
    provision(cli, "sleepy")
    open_session = tenant_login(tenant_server, "sleepy", credentials_dir)
    assert cli("suspend", "--code", "sleepy").returncode == 0

    with pytest.raises(RpcError, match="suspended"):
        tenant_login(tenant_server, "sleepy", credentials_dir)
    with pytest.raises(RpcError, match="suspended"):
        open_session.call("res.partner", "search_count", [])
    page = requests.get(
        f"{tenant_server.url}/web/login", headers={"Host": "sleepy.localhost"}, timeout=30
    )
    assert page.status_code == 503 and "Workspace suspended" in page.text

    assert cli("reactivate", "--code", "sleepy").returncode == 0
    assert tenant_login(tenant_server, "sleepy", credentials_dir).uid
    assert open_session.call("res.partner", "search_count", []) > 0


def test_drop_leaves_nothing_behind(cli, platform_db):
    provision(cli, "doomed")
    _state, database, role = tenant_row(platform_db, "doomed")
    runtime_role = query(platform_db, "SELECT runtime_role FROM ipai_tenant WHERE code = 'doomed'")
    assert database_exists(database) and (FILESTORE / database).is_dir()
    result = cli("drop", "--code", "doomed")
    assert result.returncode == 0, result.stdout + result.stderr
    assert tenant_row(platform_db, "doomed")[0] == "archived"
    assert not database_exists(database)
    assert not query("postgres", "SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    assert not query("postgres", "SELECT 1 FROM pg_roles WHERE rolname = %s", runtime_role[0])
    assert not (FILESTORE / database).exists()
    assert not query(
        platform_db,
        """SELECT 1 FROM ipai_tenant_secret s JOIN ipai_tenant t ON t.id = s.tenant_id
            WHERE t.code = 'doomed'""",
    )


@pytest.mark.parametrize(
    "failpoint",
    [
        "after:check_request",
        "before:create_database",
        "after:create_database",
        "after:set_admin",
        "before:create_roles",
        "after:create_roles",
        "after:create_schema",
    ],
)
def test_killed_mid_job_is_resumed_to_a_consistent_end(
    failpoint, cli, platform_db, tenant_server, credentials_dir
):
    code = "crash-" + failpoint.replace(":", "-").replace("_", "-")[:20].rstrip("-")
    killed = cli(
        "provision",
        "--code",
        code,
        "--email",
        f"admin@{code}.example",
        env={"IPAI_FAILPOINT": failpoint},
    )
    assert killed.returncode == -9, killed.stdout + killed.stderr
    # The job is left 'running' with no live worker; the next runner (here
    # the operator's run-jobs, or the platform's cron if it wakes first)
    # detects that and resumes it.
    resumed = cli("run-jobs")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    wait_for_state(platform_db, code, "active")
    steps = query(
        platform_db,
        """SELECT s.state, count(*) FROM ipai_tenant_job_step s
                                   JOIN ipai_tenant_job j ON j.id = s.job_id
                                   JOIN ipai_tenant t ON t.id = j.tenant_id
                                  WHERE t.code = %s GROUP BY s.state""",
        [code],
    )
    assert set(dict(steps)) == {"done"}
    # The operator asks for the password the killed run never got to write.
    reveal = cli("reveal-password", "--code", code)
    assert reveal.returncode == 0, reveal.stdout + reveal.stderr
    assert tenant_login(tenant_server, code, credentials_dir).uid


def test_permanent_failure_cleans_up_and_retry_succeeds(cli, platform_db, admin_rpc):
    module_id = admin_rpc.call(
        "ir.module.module", "create", {"name": "ipai_missing_module", "state": "uninstalled"}
    )
    plan_id = admin_rpc.call(
        "ipai.tenant.plan",
        "create",
        {"code": "broken", "name": "Broken", "module_ids": [(6, 0, [module_id])]},
    )
    result = cli("provision", "--code", "unlucky", "--plan", "broken")
    assert result.returncode == 1
    assert "ipai_missing_module" in result.stderr
    assert tenant_row(platform_db, "unlucky")[0] == "failed"
    assert not database_exists(TENANT_DB_PREFIX + "unlucky")
    assert not query(
        "postgres",
        "SELECT 1 FROM pg_roles WHERE starts_with(rolname, %s) AND rolname LIKE %s",
        [RUN_ID, "%unlucky"],
    )

    trial = admin_rpc.call("ipai.tenant.plan", "search", [("code", "=", "trial")])[0]
    tenant_id = admin_rpc.call("ipai.tenant", "search", [("code", "=", "unlucky")])[0]
    admin_rpc.call("ipai.tenant", "write", [tenant_id], {"plan_id": trial})
    job_id = admin_rpc.call("ipai.tenant.job", "search", [("tenant_id", "=", tenant_id)])[0]
    admin_rpc.call("ipai.tenant.job", "action_retry", [job_id])
    assert cli("run-jobs").returncode == 0  # or the platform's cron, woken by Retry
    wait_for_state(platform_db, "unlucky", "active")
    admin_rpc.call("ipai.tenant.plan", "write", [plan_id], {"active": False})


def test_form_button_runs_through_the_platform_cron(admin_rpc, platform_db):
    tenant_id = admin_rpc.call(
        "ipai.tenant", "create", {"code": "via-button", "name": "Via Button"}
    )
    admin_rpc.call("ipai.tenant", "action_provision", [tenant_id])
    wait_for_state(platform_db, "via-button", "active")
    # The cron ran it in the requester's name, not the superuser's.
    assert query(
        platform_db,
        "SELECT DISTINCT user_login FROM ipai_audit_log "
        "WHERE tenant_code = 'via-button' AND action LIKE 'job:%%'",
    ) == [("admin",)]


def test_archive_backs_up_then_drops(cli, platform_db):
    provision(cli, "retired")
    _state, database, _role = tenant_row(platform_db, "retired")
    result = cli("archive", "--code", "retired")
    assert result.returncode == 0, result.stdout + result.stderr
    (backup_path,) = query(
        platform_db,
        """SELECT j.backup_path FROM ipai_tenant_job j JOIN ipai_tenant t ON t.id = j.tenant_id
            WHERE t.code = 'retired' AND j.job_type = 'archive'""",
    )[0]
    assert Path(backup_path).stat().st_size > 100_000
    listing = subprocess.run(
        ["pg_restore", "--list", backup_path], capture_output=True, text=True, check=True
    ).stdout
    assert "TABLE DATA public res_users" in listing
    assert not database_exists(database)
    assert tenant_row(platform_db, "retired")[0] == "archived"
