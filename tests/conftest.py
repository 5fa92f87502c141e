"""Fixtures of the integration tests: a platform database copied from the
template scripts/test.sh built (or installed here when run on their own), a
real Odoo server on it, and a headless Chromium."""

import os
import secrets
import shutil

import pytest

from .support import (
    ARTIFACTS,
    BACKUPS,
    LOCAL_DIR,
    RUN_ID,
    RUNTIME_ROLE,
    TENANT_DB_PREFIX,
    JsonRpc,
    LoopbackDns,
    OpenApiChecker,
    Proxy,
    S3Server,
    control_plane,
    copy_database,
    database_exists,
    drop_database,
    drop_run_leftovers,
    install_database,
    odoo_backup_zip,
    pg_cluster,
    query,
    route_tenants_to,
    run_cli,
    set_admin_password,
    set_params,
    tenant_runtime,
)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-dev-shm-usage",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def template_db():
    name = os.environ.get("IPAI_TEST_TEMPLATE_DB") or f"{RUN_ID}_tpl"
    if not database_exists(name):
        install_database(name, "ipai_tenant_core,ipai_tenant_billing,ipai_tenant_notify")
    return name


@pytest.fixture(scope="session")
def admin_password():
    return secrets.token_urlsafe(12)


BACKUP_CRONS = ("ir_cron_schedule_backups", "ir_cron_prune_backups", "ir_cron_test_restore")


@pytest.fixture(scope="session")
def dns_server():
    return LoopbackDns()


@pytest.fixture(scope="session")
def platform_db(template_db, admin_password, dns_server):
    # Imported here: pytest loads this file before pytest-odoo puts the
    # addons on odoo.addons' path.
    from odoo.addons.ipai_tenant_notify.tests.receiver import RECEIVER_ADDRESS

    name = f"{RUN_ID}_platform"
    drop_database(name)
    copy_database(template_db, name, connect_roles=[RUNTIME_ROLE])
    set_params(
        name,
        {
            "ipai_tenant_core.database_prefix": TENANT_DB_PREFIX,
            "ipai_tenant_core.role_prefix": f"{RUN_ID}_r_",
            "ipai_tenant_core.template_prefix": f"{RUN_ID}_tpl_",
            "ipai_tenant_core.dns_resolver": dns_server.address,
            "ipai_tenant_core.backup_root": str(BACKUPS / RUN_ID),
            "ipai_tenant_notify.outbound_allow_hosts": RECEIVER_ADDRESS,
        },
    )
    set_admin_password(name, admin_password)
    # The backup crons act on their own schedule (a scheduled backup would
    # take a tenant's one open job in the middle of another test, pruning
    # would remove a test's older backups of the day): the tests that need
    # them call them.
    query(
        name,
        """UPDATE ir_cron SET active = false WHERE id IN (
               SELECT res_id FROM ir_model_data WHERE module = 'ipai_tenant_data_safety'
                  AND name IN %s)""",
        [BACKUP_CRONS],
    )
    yield name
    drop_run_leftovers(RUN_ID)
    shutil.rmtree(BACKUPS / RUN_ID, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(request):
    """A second PostgreSQL server of the module's own (pg_cluster: as it
    comes, no platform role), dropped after the module."""
    with pg_cluster(request.module.__name__.rsplit(".", 1)[-1].replace("_", "-")) as made:
        yield made


@pytest.fixture(scope="session")
def tenant_server(platform_db):
    """The tenant runtime: every tenant database of this run, routed by host
    name (<code>.localhost) as in production, each opened with its tenant's
    own role, without any platform secret in its environment. Tenant URLs
    point at it."""
    server = tenant_runtime(platform_db, "tenants").start()
    route_tenants_to(platform_db, server)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def platform_server(platform_db, tenant_server):
    """The control plane: the platform database only, on 127.0.0.1."""
    server = control_plane(platform_db)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible server that authenticates and authorizes every
    request (tests/support.py, S3Server); every bucket a test made is
    removed with the server, which keeps nothing on disk."""
    server = S3Server(LOCAL_DIR / "logs" / f"{RUN_ID}-s3.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def proxy(platform_db, platform_server, tenant_server, tmp_path_factory):
    """Caddy in front of both runtimes, as `make run` starts it (the compose
    stack's Caddyfile through scripts/proxy.sh)."""
    server = Proxy(
        platform_server,
        tenant_server,
        LOCAL_DIR / "logs" / f"{platform_db}-proxy.log",
        tmp_path_factory.mktemp("caddy"),
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def admin_rpc(platform_server, admin_password):
    return JsonRpc(platform_server.url, platform_server.dbname, "admin", admin_password)


@pytest.fixture(scope="session")
def playwright_session():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def chromium(playwright_session):
    browser = playwright_session.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def credentials_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("credentials")


@pytest.fixture(scope="session")
def cli(platform_db, credentials_dir):
    def run(*args, env=None):
        return run_cli(
            platform_db, *args, env={"IPAI_CREDENTIALS_DIR": str(credentials_dir), **(env or {})}
        )

    return run


@pytest.fixture(scope="session")
def openapi(platform_server):
    """The OpenAPI document the running platform serves, as a checker of
    every API answer the tests receive."""
    import requests

    return OpenApiChecker(
        requests.get(f"{platform_server.url}/api/v1/openapi.json", timeout=30).json()
    )


@pytest.fixture(scope="module", autouse=True)
def connection_slots_record(request):
    """One line per test module in .local/artifacts/connection-slots.log: the
    cluster's backends when the module ends, grouped by role and program.
    The cluster has 100 slots for the whole suite; this shows which fixture
    holds them when a later module cannot connect."""
    yield
    rows = query(
        "postgres",
        "SELECT usename, coalesce(nullif(application_name, ''), backend_type), count(*)"
        " FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND usename IS NOT NULL"
        " GROUP BY 1, 2 ORDER BY 3 DESC",
    )
    total = sum(count for _role, _program, count in rows)
    groups = ", ".join(f"{role}/{program}={count}" for role, program, count in rows[:8])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(ARTIFACTS / "connection-slots.log", "a") as log:
        log.write(f"{RUN_ID} {request.module.__name__}: {total} ({groups})\n")


@pytest.fixture(scope="session")
def odoo_backup(tmp_path_factory):
    """A customer's Odoo 18 backup zip, made once by a stock Odoo."""
    return odoo_backup_zip(tmp_path_factory.mktemp("odoo-backup") / "source.zip")
