"""Upgrading a platform database across the splits of ipai_tenant_core
(18.0.1.2.0) and of the engine (18.0.1.1.0): what left for an addon of its
own (the REST API, the engine, data safety) keeps its tables, rows, menus,
views and crons, and the new addons are installed in the same upgrade
(addons/ipai_tenant_core/module_moves.py)."""

import contextlib
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
# The last commit before data safety left the engine (its 18.0.1.0.0).
BEFORE_DATA_SAFETY = "3e875778e9d909bedb981b7355825887e09d2ebb"
PLATFORM_MODULES = "ipai_tenant_core,ipai_tenant_billing,ipai_tenant_notify"
# Rows later versions added beside the moves (new, not moved): cells (their
# list, form and search views, the move wizard's view, the plan's dedicated
# cell field, the menu, access of cells and of the wizard) and the cron that
# checks the database servers; data safety's moves between servers (the
# wizard's view and access, the server form's Drain button, the access to
# databases left by moves and the cron that drops them after their grace).
ADDED_SINCE = {"ir_ui_view": 8, "ir_ui_menu": 1, "ir_model_access": 6, "ir_cron": 2}


def with_added(before, **more):
    """``before``'s counts with what later versions added, and ``more``."""
    expected = dict(before)
    for table, count in ADDED_SINCE.items():
        expected[table] = expected[table] + count
    for table, count in more.items():
        expected[table] = expected[table] + count
    return expected


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


@contextlib.contextmanager
def addons_at(commit):
    """The addons path of ``commit``'s addons (and Odoo's)."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "addons.tar"
        git = ["git", "-C", str(REPO_ROOT), "archive", "-o", str(archive)]
        made = subprocess.run(
            [*git, commit, "addons"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert made.returncode == 0, f"this clone lacks {commit}: {made.stderr}"
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        odoo_addons = odoo_bin().parent / "addons"
        yield f"{tmp}/addons,{odoo_addons}"


@contextlib.contextmanager
def platform_at(commit, suffix):
    """A platform database installed from ``commit``'s addons, and that path."""
    dbname = f"{RUN_ID}_moves_{suffix}"
    drop_database(dbname)
    with addons_at(commit) as addons_path:
        odoo(dbname, "-i", PLATFORM_MODULES, "--stop-after-init", addons_path=addons_path)
        try:
            yield dbname, addons_path
        finally:
            drop_database(dbname)


@pytest.fixture
def platform_before_the_split():
    with platform_at(BEFORE_THE_SPLIT, "core") as made:
        yield made


@pytest.fixture
def platform_before_data_safety():
    with platform_at(BEFORE_DATA_SAFETY, "engine") as made:
        yield made


def counts(dbname):
    tables = ("ir_ui_menu", "ir_ui_view", "ir_model_access", "ir_rule", "ir_cron")
    return {table: query(dbname, f"SELECT count(*) FROM {table}")[0][0] for table in tables}


def upgrade_with_rows(platform, make_rows):
    """Make rows with the old addons (``make_rows`` prints ``ROWS <ids>``),
    then upgrade core with today's: the ids and the counts from before."""
    dbname, addons_path = platform
    shell = odoo(dbname, addons_path=addons_path, shell_code=make_rows)
    ids = [int(value) for value in shell.split("ROWS")[1].split()[:2]]
    before = counts(dbname)
    odoo(dbname, "-u", "ipai_tenant_core", "--stop-after-init")
    return dbname, ids, before


def test_the_api_and_the_engine_leave_core_with_their_rows(platform_before_the_split):
    dbname, (key_id, job_id), before = upgrade_with_rows(platform_before_the_split, MAKE_ROWS)
    assert query(
        dbname,
        """SELECT name, state FROM ir_module_module
            WHERE name IN ('ipai_tenant_api', 'ipai_tenant_data_safety', 'ipai_tenant_engine')
            ORDER BY name""",
    ) == [
        ("ipai_tenant_api", "installed"),
        ("ipai_tenant_data_safety", "installed"),
        ("ipai_tenant_engine", "installed"),
    ]
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
    # engine's and data safety's parts of the tenant form, data safety's of
    # the job form, and the welcome mails' cron.
    assert counts(dbname) == with_added(before, ir_ui_view=3, ir_cron=1)
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
    # now the engine's (with its new eighth) and data safety's; core's one
    # is new (it checks the database servers).
    assert query(
        dbname,
        """SELECT module, count(*) FROM ir_model_data WHERE model = 'ir.cron'
            AND module IN ('ipai_tenant_core', 'ipai_tenant_engine', 'ipai_tenant_data_safety')
            GROUP BY module ORDER BY module""",
    ) == [("ipai_tenant_core", 1), ("ipai_tenant_data_safety", 5), ("ipai_tenant_engine", 4)]
    assert query(
        dbname,
        """SELECT count(*) FROM ir_model_data WHERE module = 'ipai_tenant_core'
            AND (name LIKE 'field\\_ipai\\_api\\_%%'
                 OR name LIKE 'field\\_ipai\\_tenant\\_job%%')""",
    ) == [(0,)]


MAKE_SAFETY_ROWS = """
tenant = env["ipai.tenant"].create({"code": "before-safety", "name": "Before data safety"})
job = env["ipai.tenant.job"].sudo().create(
    {"tenant_id": tenant.id, "job_type": "backup", "state": "done", "backup_path": "/b/dump"}
)
backup = env["ipai.tenant.backup"].sudo().create({
    "tenant_id": tenant.id, "job_id": job.id, "kind": "manual", "backup_date": "2026-12-01",
    "folder": "/b", "dump_sha256": "d" * 64, "filestore_sha256": "f" * 64,
})
job.backup_id = backup
env.cr.commit()
print("ROWS", job.id, backup.id)
"""


def test_data_safety_leaves_the_engine_with_its_rows(platform_before_data_safety):
    dbname, (job_id, backup_id), before = upgrade_with_rows(
        platform_before_data_safety, MAKE_SAFETY_ROWS
    )
    assert query(
        dbname, "SELECT state FROM ir_module_module WHERE name = 'ipai_tenant_data_safety'"
    ) == [("installed",)]
    # The backup job and its backup, as they were.
    assert query(
        dbname,
        """SELECT j.job_type, j.backup_path, b.kind, b.folder FROM ipai_tenant_job j
             JOIN ipai_tenant_backup b ON b.id = j.backup_id WHERE j.id = %s AND b.id = %s""",
        (job_id, backup_id),
    ) == [("backup", "/b/dump", "manual", "/b")]
    # The same menus, access rights, rules and crons; new: data safety's
    # parts of the tenant and job forms (the backups page left the engine's).
    assert counts(dbname) == with_added(before, ir_ui_view=2)
    assert query(
        dbname,
        """SELECT module, count(*) FROM ir_model_data
            WHERE module IN ('ipai_tenant_engine', 'ipai_tenant_data_safety')
              AND (model = 'ir.cron' OR name IN (
                   'model_ipai_tenant_backup', 'model_ipai_tenant_upgrade_run',
                   'field_ipai_tenant_job__backup_id', 'field_ipai_tenant__backup_ids',
                   'selection__ipai_tenant_job__job_type__backup', 'menu_backups'))
            GROUP BY module ORDER BY module""",
    ) == [("ipai_tenant_data_safety", 11), ("ipai_tenant_engine", 4)]
