"""Upgrading a platform database across the split of ipai_tenant_core
(18.0.1.2.0): what left it for an addon of its own (the REST API, the engine)
keeps its tables, rows, menus, views and crons, and the new addons are
installed in the same upgrade (addons/ipai_tenant_core/module_moves.py)."""

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

from .conftest import RUN_ID
from .support import ODOO_CONF, REPO_ROOT, drop_database, odoo_bin, query

# The last commit before the API left ipai_tenant_core (its 18.0.1.1.0).
BEFORE_THE_SPLIT = "3c5fc45131d4456e81774a7e468cc2a3ccb406eb"
PLATFORM_MODULES = "ipai_tenant_core,ipai_tenant_billing,ipai_tenant_notify"
MAKE_ROWS = """
key, _plain = env["ipai.api.key"]._generate(env.ref("base.user_admin").id, "made before", days=0)
tenant = env["ipai.tenant"].create({"code": "before-split", "name": "Before the split"})
tenant.action_provision()
env.cr.commit()
print("ROWS", key.id, tenant.job_ids.id)
"""


def odoo(dbname, *args, addons_path=None, shell_code=None):
    """Odoo on ``dbname`` (its shell with ``shell_code``), from ``addons_path``
    when given."""
    command = [sys.executable, str(odoo_bin()), *(["shell", "--no-http"] if shell_code else [])]
    command += ["-c", str(ODOO_CONF), "-d", dbname, *args, "--log-level=warn"]
    if addons_path:
        command.append(f"--addons-path={addons_path}")
    result = subprocess.run(command, input=shell_code, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def addons_before_the_split():
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "addons.tar"
        git = ["git", "-C", str(REPO_ROOT), "archive", "-o", str(archive)]
        made = subprocess.run(
            [*git, BEFORE_THE_SPLIT, "addons"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert made.returncode == 0, f"this clone lacks {BEFORE_THE_SPLIT}: {made.stderr}"
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        odoo_addons = odoo_bin().parent / "addons"
        yield f"{tmp}/addons,{odoo_addons}"


@pytest.fixture
def platform_before_the_split(addons_before_the_split):
    dbname = f"{RUN_ID}_moves"
    drop_database(dbname)
    odoo(dbname, "-i", PLATFORM_MODULES, "--stop-after-init", addons_path=addons_before_the_split)
    yield dbname
    drop_database(dbname)


def counts(dbname):
    tables = ("ir_ui_menu", "ir_ui_view", "ir_model_access", "ir_rule", "ir_cron")
    return {table: query(dbname, f"SELECT count(*) FROM {table}")[0][0] for table in tables}


def test_the_api_and_the_engine_leave_core_with_their_rows(
    platform_before_the_split, addons_before_the_split
):
    dbname = platform_before_the_split
    shell = odoo(dbname, addons_path=addons_before_the_split, shell_code=MAKE_ROWS)
    key_id, job_id = map(int, shell.split("ROWS")[1].split()[:2])
    before = counts(dbname)

    odoo(dbname, "-u", "ipai_tenant_core", "--stop-after-init")

    assert query(
        dbname,
        """SELECT name, state FROM ir_module_module
            WHERE name IN ('ipai_tenant_api', 'ipai_tenant_engine') ORDER BY name""",
    ) == [("ipai_tenant_api", "installed"), ("ipai_tenant_engine", "installed")]
    assert query(dbname, "SELECT name FROM ipai_api_key WHERE id = %s", (key_id,)) == [
        ("made before",)
    ]
    assert query(
        dbname,
        """SELECT j.job_type, j.state, t.code FROM ipai_tenant_job j
             JOIN ipai_tenant t ON t.id = j.tenant_id WHERE j.id = %s""",
        (job_id,),
    ) == [("create", "queued", "before-split")]
    # Nothing made twice, nothing lost: the moved views, menus, access rights,
    # rules and crons are the same rows under their new owner; new are the
    # engine's part of the tenant form and the welcome mails' cron.
    assert counts(dbname) == {
        **before,
        "ir_ui_view": before["ir_ui_view"] + 1,
        "ir_cron": before["ir_cron"] + 1,
    }
    assert query(
        dbname,
        """SELECT name, module FROM ir_model_data WHERE model = 'ir.model'
            AND name IN ('model_ipai_api_key', 'model_ipai_tenant_job')
            AND module IN ('ipai_tenant_core', 'ipai_tenant_engine', 'ipai_tenant_api')
            ORDER BY name""",
    ) == [
        ("model_ipai_api_key", "ipai_tenant_api"),
        ("model_ipai_tenant_job", "ipai_tenant_engine"),
    ]
    # The seven crons are the same records (their schedule and state kept),
    # now the engine's, with its new eighth.
    assert query(
        dbname,
        """SELECT module, count(*) FROM ir_model_data WHERE model = 'ir.cron'
            AND module IN ('ipai_tenant_core', 'ipai_tenant_engine')
            GROUP BY module""",
    ) == [("ipai_tenant_engine", 8)]
    assert query(
        dbname,
        """SELECT count(*) FROM ir_model_data WHERE module = 'ipai_tenant_core'
            AND (name LIKE 'field\\_ipai\\_api\\_%%'
                 OR name LIKE 'field\\_ipai\\_tenant\\_job%%')""",
    ) == [(0,)]
