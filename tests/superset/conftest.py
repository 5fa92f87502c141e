"""Fixtures of the Superset integration tests: a real Apache Superset started
with scripts/superset.sh, two real tenants provisioned with the operator's
CLI, their workspaces made with scripts/superset_workspace.py, and the tenant
runtime serving the tenant databases by host name, as in production.
Everything is named after the test run and removed at the end (the tenant
databases and roles by the platform fixtures, the Superset objects here)."""

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest
import requests

from ..conftest import CHROMIUM, CHROMIUM_ARGS, RUN_ID, TENANT_DB_PREFIX
from ..support import (
    REPO_ROOT,
    JsonRpc,
    admin_password,
    install_database,
    pg_connect,
    query,
    run_cli,
    run_script,
)

SUPERSET_SH = REPO_ROOT / "scripts" / "superset.sh"
MODULE = "ipai_bi_superset_embed"
# Tenant codes unique to this run: Superset outlives the run's databases.
RUN_TAG = RUN_ID.rsplit("_", 1)[-1]
TENANT_CODES = {"acme": f"bi{RUN_TAG}-acme", "beta": f"bi{RUN_TAG}-beta"}
# Rows each tenant owns, plus one row tagged with the other tenant's code that
# sits in its table anyway: only the guest token's RLS clause keeps it out.
SALES = {
    "acme": [("north", 10), ("south", 20), ("west", 30)],
    "beta": [("east", 7), ("central", 11)],
}


def _env_file(path):
    values = {}
    for line in Path(path).read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


class Superset:
    def __init__(self):
        settings = _env_file_from_command([str(SUPERSET_SH), "env"])
        secrets = _env_file(settings["SUPERSET_ENV_FILE"])
        self.url = settings["SUPERSET_URL"]
        self.audience = settings["SUPERSET_GUEST_TOKEN_AUDIENCE"]
        self.admin_password = (
            os.environ.get("SUPERSET_ADMIN_PASSWORD") or secrets["SUPERSET_ADMIN_PASSWORD"]
        )
        self.guest_secret = (
            os.environ.get("SUPERSET_GUEST_TOKEN_SECRET") or secrets["SUPERSET_GUEST_TOKEN_SECRET"]
        )

    def admin_api(self):
        from odoo.addons.ipai_tenant_engine.provisioning.superset_workspace import SupersetApi

        return SupersetApi(self.url, "admin", self.admin_password)

    def login(self, username, password):
        response = requests.post(
            f"{self.url}/api/v1/security/login",
            json={"username": username, "password": password, "provider": "db"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["access_token"]


def _env_file_from_command(command):
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


def _remove_workspaces_of_dead_runs(superset):
    """Runs killed before their teardown leave workspaces named bi<pid>-...;
    their process is gone, so those are fair game."""
    from odoo.addons.ipai_tenant_engine.provisioning.superset_workspace import remove_workspace

    api = superset.admin_api()
    prefix = "ipai_svc_bi"
    for row in api.find("security/users", [("username", "sw", prefix)], ("id", "username")):
        code = row["username"][len("ipai_svc_") :]
        pid = code[2:].split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            remove_workspace(api, code)


@pytest.fixture(scope="session")
def superset():
    """Superset on loopback: started for this session unless already running,
    and then stopped again."""
    already_running = (
        subprocess.run([str(SUPERSET_SH), "status"], capture_output=True).returncode == 0
    )
    if not already_running:
        subprocess.run([str(SUPERSET_SH), "start"], check=True, timeout=900)
    instance = Superset()
    _remove_workspaces_of_dead_runs(instance)
    yield instance
    if not already_running:
        subprocess.run([str(SUPERSET_SH), "stop"], check=False, timeout=120)


@pytest.fixture(scope="session")
def bi_credentials(tmp_path_factory):
    return tmp_path_factory.mktemp("bi_credentials")


def _module_installed(dbname):
    rows = query(dbname, "SELECT state FROM ir_module_module WHERE name = %s", [MODULE])
    return rows == [("installed",)]


def _install_module(dbname):
    if not _module_installed(dbname):
        install_database(dbname, MODULE)


def _seed_sales(dbname, schema, own_code, other_code, rows):
    with closing(pg_connect(dbname)) as conn, conn.cursor() as cr:
        cr.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".sales '
            "(tenant_code text NOT NULL, region text NOT NULL, amount numeric NOT NULL)"
        )
        cr.execute(f'TRUNCATE "{schema}".sales')
        for region, amount in rows:
            cr.execute(
                f'INSERT INTO "{schema}".sales VALUES (%s, %s, %s)', [own_code, region, amount]
            )
        cr.execute(
            f'INSERT INTO "{schema}".sales VALUES (%s, %s, %s)', [other_code, "planted", 999]
        )


def run_workspace_cli(platform_db, *args, env=None):
    return run_script("superset_workspace.py", platform_db, *args, env=env, timeout=300)


def make_workspace(platform_db, tenant, server):
    """scripts/superset_workspace.py for ``tenant``'s sales table, allowing
    ``server`` to embed; it succeeds, and what it printed is returned."""
    result = run_workspace_cli(
        platform_db,
        "--code",
        tenant.code,
        "--table",
        "sales",
        "--allowed-domain",
        server.host_url(tenant.host),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


class BiTenant:
    def __init__(self, key, code, credentials_dir):
        self.key = key
        self.code = code
        self.database = TENANT_DB_PREFIX + code
        self.host = f"{code}.localhost"
        self.schema = "tenant_" + code.replace("-", "_")
        self.login = f"admin@{code}.example"
        self.password = admin_password(credentials_dir, code)
        self.workspace = None  # filled from Superset below

    def params(self):
        return dict(query(self.database, "SELECT key, value FROM ir_config_parameter"))


@pytest.fixture(scope="session")
def bi_plan(admin_rpc):
    """A plan with embedded BI and the trial's module set (so its template)."""
    contacts = admin_rpc.call("ir.module.module", "search", [("name", "=", "contacts")])
    code = f"bi{RUN_TAG}"
    admin_rpc.call(
        "ipai.tenant.plan",
        "create",
        {"code": code, "name": "BI trial", "feature_bi": True, "module_ids": [(6, 0, contacts)]},
    )
    return code


@pytest.fixture(scope="session")
def bi_tenants(platform_db, superset, bi_credentials, bi_plan):
    """Two tenants with the BI addon on a plan with embedded BI, the same
    `sales` table shape, and a Superset workspace each; removed from Superset
    at the end."""
    env = {"IPAI_CREDENTIALS_DIR": str(bi_credentials)}
    for code in TENANT_CODES.values():
        result = run_cli(
            platform_db,
            "provision",
            "--code",
            code,
            "--email",
            f"admin@{code}.example",
            "--plan",
            bi_plan,
            env=env,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    tenants = {key: BiTenant(key, code, bi_credentials) for key, code in TENANT_CODES.items()}
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(_install_module, [tenant.database for tenant in tenants.values()]))
    for key, tenant in tenants.items():
        schema = query(
            platform_db, "SELECT analytics_schema FROM ipai_tenant WHERE code = %s", [tenant.code]
        )[0][0]
        tenant.schema = schema
        other = tenants["beta" if key == "acme" else "acme"].code
        _seed_sales(tenant.database, schema, tenant.code, other, SALES[key])
    yield tenants
    api = superset.admin_api()
    from odoo.addons.ipai_tenant_engine.provisioning.superset_workspace import remove_workspace

    for tenant in tenants.values():
        remove_workspace(api, tenant.code)


@pytest.fixture(scope="session")
def bi_server(bi_tenants, tenant_server):
    """The tenant runtime: each BI tenant on its own host name, served with
    its own role, as in production."""
    return tenant_server


@pytest.fixture(scope="session")
def workspaces(bi_tenants, bi_server, platform_db, superset):
    """The CLI provisions each workspace (allowing the test Odoo to embed)."""
    outputs = {}
    for key, tenant in bi_tenants.items():
        outputs[key] = make_workspace(platform_db, tenant, bi_server)
    api = superset.admin_api()
    for tenant in bi_tenants.values():
        slug = f"ipai_{tenant.code}_overview"
        (dashboard,) = api.find("dashboard", [("slug", "eq", slug)], ("id", "slug"))
        embedded = api.get(f"/api/v1/dashboard/{dashboard['id']}/embedded")["result"]
        charts = api.get(f"/api/v1/dashboard/{dashboard['id']}/charts")["result"]
        tenant.workspace = {
            "dashboard_id": dashboard["id"],
            "uuid": embedded["uuid"],
            "chart_id": charts[0]["id"],
            "dataset_id": charts[0]["form_data"]["datasource"].split("__")[0],
        }
    return outputs


@pytest.fixture(scope="session")
def tenant_admins(bi_tenants, bi_server, workspaces):
    """A logged-in administrator session per tenant, with the workspace's
    dashboards loaded into Odoo through the settings button."""
    sessions = {}
    for key, tenant in bi_tenants.items():
        rpc = JsonRpc(
            bi_server.url, tenant.database, tenant.login, tenant.password, host=tenant.host
        )
        settings_id = rpc.call("res.config.settings", "create", {})
        rpc.call("res.config.settings", "action_ipai_bi_load_dashboards", [settings_id])
        (dashboard,) = rpc.call(
            "ipai.bi.dashboard", "search_read", [], ["id", "embedded_uuid", "menu_id", "action_id"]
        )
        assert dashboard["embedded_uuid"] == tenant.workspace["uuid"]
        tenant.dashboard_id = dashboard["id"]
        sessions[key] = rpc
    return sessions


def guest_token(session, server, dashboard_id, timeout=30):
    return session.get(
        f"{server.url}/ipai_bi/dashboard/{dashboard_id}/guest_token", timeout=timeout
    )


@pytest.fixture
def bi_page(playwright_session, tmp_path):
    """A page of a browser profile that lets the dashboard frame keep its
    storage. Locally the frame is a third-party document: every *.localhost
    name is a site of its own to Chromium, and Superset answers on
    127.0.0.1, so Chromium's default (third-party storage blocked) would
    deny it localStorage and Superset's page would stay blank. In production
    Superset sits under the tenants' own registrable domain and the frame is
    first-party (docs/bi.md)."""
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    (profile / "Default" / "Preferences").write_text(
        json.dumps({"profile": {"cookie_controls_mode": 0}})
    )
    context = playwright_session.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1400, "height": 900},
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()
