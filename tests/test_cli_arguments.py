"""Every operator command refuses bad arguments with one line on stderr and
exit 2, and changes nothing (scripts/cli_input.py); `make prune-backups`
keeps manual backups by their own rule and names what it removes; a step
that did nothing says "skipped"; introspection titles a pooled tenant's
schema with its code and documented database name. Real commands against
real databases."""

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from .support import (
    REPO_ROOT,
    RUN_ID,
    TENANT_DB_PREFIX,
    copy_database,
    drop_database,
    paused_cron,
    provision,
    query,
    run_cli,
    run_odoo_script,
    run_script,
)

# A tenant with backups, made in a database of this module's own: pruning
# there touches no other test's backups. Dates are written by the test.
SEED = """
tenant = env["ipai.tenant"].create(
    {"code": "arg-keep", "name": "Arg Keep", "plan_id": env.ref("ipai_tenant_core.plan_trial").id}
)
env.cr.execute("UPDATE ipai_tenant SET state = 'active' WHERE id = %s", [tenant.id])
for kind, taken, folder in BACKUPS:
    env["ipai.tenant.backup"].sudo().create({
        "tenant_id": tenant.id, "kind": kind, "backup_date": taken, "folder": folder,
        "dump_sha256": "0" * 64, "filestore_sha256": "0" * 64,
    })
"""


def snapshot(dbname):
    """What a refused command must leave as it was."""
    return query(
        dbname,
        """SELECT (SELECT count(*) FROM ipai_tenant), (SELECT count(*) FROM ipai_tenant_job),
                  (SELECT count(*) FROM ipai_tenant_backup), (SELECT count(*) FROM ipai_api_key),
                  (SELECT count(*) FROM ipai_tenant_server),
                  (SELECT count(*) FROM ipai_tenant_upgrade_run),
                  (SELECT count(*) FROM ipai_audit_log),
                  (SELECT string_agg(code || ':' || state, ',' ORDER BY code) FROM ipai_tenant),
                  (SELECT string_agg(code || ':' || pool_size, ',' ORDER BY code)
                     FROM ipai_tenant_plan)""",
    )


def assert_refused(result, *said):
    """Exit 2 and one line on stderr, ``error: ...`` saying each of ``said``."""
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for text in said:
        assert text in lines[0], lines[0]


def run(*command, env=None):
    return subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture(scope="module")
def backup_root(tmp_path_factory):
    return tmp_path_factory.mktemp("arg-backups")


@pytest.fixture(scope="module")
def backups(backup_root):
    """kind, date and folder of each seeded backup, by a name of the test's:
    today two scheduled and two manual ones, and manual ones 30 and 100
    days old (90 days is the default for manual backups)."""
    now = datetime.utcnow().replace(microsecond=0)
    today = now.replace(hour=0, minute=0, second=0)
    # Four moments of today, all before now (the order is the names').
    moments = [today + (now - today) * share / 5 for share in range(1, 5)]
    taken = {
        "scheduled-early": ("scheduled", moments[0]),
        "manual-1": ("manual", moments[1]),
        "manual-2": ("manual", moments[2]),
        "scheduled-late": ("scheduled", moments[3]),
        "manual-30-days": ("manual", now - timedelta(days=30)),
        "manual-100-days": ("manual", now - timedelta(days=100)),
    }
    seeded = {}
    for label, (kind, when) in taken.items():
        folder = backup_root / "arg-keep" / label
        folder.mkdir(parents=True)
        (folder / "database.dump").write_bytes(b"not a dump")
        seeded[label] = (kind, when.strftime("%Y-%m-%d %H:%M:%S"), str(folder))
    return seeded


@pytest.fixture(scope="module")
def arguments_db(template_db, backups):
    name = f"{RUN_ID}_arguments"
    drop_database(name)
    copy_database(template_db, name)
    run_odoo_script(name, f"BACKUPS = {list(backups.values())!r}\n{SEED}")
    yield name
    drop_database(name)


def backup_ids(dbname):
    return dict(query(dbname, "SELECT folder, id FROM ipai_tenant_backup"))


# ---------------------------------------------------------------- refusals

# tenants.py (`make <target>` through scripts/tenant.sh): the arguments and
# what the one line says. {missing}: a folder that does not exist.
TENANT_COMMANDS = [
    (("list", "--state", "bogus"), ["'bogus' is not one of 'draft', 'provisioning', 'active'"]),
    (("list", "--type", "reseller"), ["'reseller' is not one of 'client', 'provider', 'internal'"]),
    (("provision", "--code", ""), ["--code", "must not be empty"]),
    (("provision", "--code", "arg-new", "--type", "bogus"), ["--type"]),
    (("provision", "--code", "arg-new", "--plan", "no-such-plan"), ["no plan"]),
    (("suspend", "--code", ""), ["--code", "must not be empty"]),
    (("suspend", "--code", "no-such-tenant"), ["no tenant with code 'no-such-tenant'"]),
    (("restore",), ["Missing option '--backup'"]),
    (("restore", "--backup", "abc"), ["'abc' is not a valid integer"]),
    (("restore", "--backup", "0"), ["--backup", "x>=1"]),
    (("test-restore", "--backup", "0"), ["--backup", "x>=1"]),
    (("export-backup", "--backup", "1", "--out", "{missing}/backup.zip"), ["no folder"]),
    (("introspect", "--code", "arg-keep", "--out", "{missing}"), ["no folder"]),
    (("introspect", "--code", "arg-keep", "--format", "pdf"), ["--format"]),
    (("refill-pool", "--size", "3"), ["--plan and --size go together"]),
    (("refill-pool", "--plan", "trial", "--size", "-1"), ["--size", "x>=0"]),
    (("move-server", "--code", "arg-keep", "--server", "x", "--grace-hours", "-1"), ["x>=0"]),
    (("drain-server", "--server", ""), ["--server"]),
    (("upgrade-tenants", "--concurrency", "0"), ["--concurrency"]),
    (("add-server", "--name", "x", "--host", "h", "--port", "70000"), ["--port"]),
    (("set-replica", "--server", "x", "--port", "0"), ["--port"]),
    (("no-such-command",), ["No such command"]),
]


@pytest.mark.parametrize(
    ("args", "said"), TENANT_COMMANDS, ids=[" ".join(args) for args, _ in TENANT_COMMANDS]
)
def test_tenant_commands_refuse_bad_arguments(arguments_db, tmp_path, args, said):
    missing = tmp_path / "no-such-folder"
    before = snapshot(arguments_db)
    result = run_cli(arguments_db, *(arg.format(missing=missing) for arg in args))
    assert_refused(result, *said)
    assert snapshot(arguments_db) == before
    assert not missing.exists()


def test_list_tenants_names_every_valid_state(arguments_db):
    result = run_cli(arguments_db, "list", "--state", "bogus")
    assert_refused(result)
    for state in ("draft", "provisioning", "active", "suspended", "maintenance", "archived"):
        assert f"'{state}'" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--days", "-5"), ["--days", "x>=0"]),
        (("--days", "soon"), ["'soon' is not a valid integer"]),
        (("--rate-limit", "-1"), ["--rate-limit"]),
        (("--login", ""), ["--login", "must not be empty"]),
        (("--login", "no-such-user"), ["no user with login 'no-such-user'"]),
    ],
)
def test_api_key_refuses_a_key_born_expired(arguments_db, args, said):
    login = () if "--login" in args else ("--login", "admin")
    before = snapshot(arguments_db)
    result = run_script("api_key.py", arguments_db, *login, *args)
    assert_refused(result, *said)
    assert result.stdout == ""  # no key shown
    assert snapshot(arguments_db) == before
    # The model refuses it too (the form's wizard, the API).
    check = run_odoo_script(
        arguments_db,
        """
from odoo.exceptions import UserError
for kwargs in ({"days": -5}, {"expires_at": "2000-01-01 00:00:00"}):
    try:
        env["ipai.api.key"]._generate(env.ref("base.user_admin"), "n", **kwargs)
    except UserError as exc:
        print("refused:", exc.args[0])
env.cr.rollback()
""",
    )
    assert "refused: A key is valid for 0 days (never expires) or more." in check.stdout
    assert "refused: A key cannot expire in the past." in check.stdout


def test_verify_audit_refuses_what_is_not_a_platform_database(arguments_db):
    for database, said in (
        (f"{RUN_ID}_no_such_db", "no database named"),
        ("postgres", "is not a platform database"),
    ):
        result = run(REPO_ROOT / "scripts" / "verify_audit.sh", database)
        assert_refused(result, said, database)
    intact = run(REPO_ROOT / "scripts" / "verify_audit.sh", arguments_db)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert intact.stdout.startswith("audit trail intact:")


def test_the_other_commands_refuse_bad_arguments_in_one_line(arguments_db):
    before = snapshot(arguments_db)
    scripts = REPO_ROOT / "scripts"
    for result, said in (
        (run_script("bill_tenants.py", arguments_db, "--date", "2026-02-30"), "is not a date"),
        (
            run_script("superset_workspace.py", arguments_db, "--code", "nope", "--check-only"),
            "no tenant with code 'nope'",
        ),
        (run_script("superset_workspace.py", arguments_db, "--code", " "), "must not be empty"),
        (run_script("bench_introspect.py", arguments_db, "--code", "x", "--rounds", "0"), "x>=1"),
        (run(sys.executable, scripts / "mail.py", "--show", "first"), "invalid int value"),
        (run(sys.executable, scripts / "cell_env.py", "Not A Cell"), "cell code"),
        (run(scripts / "add_server.sh", "db9", "10.0.0.9", "70000"), "PORT must be a number"),
        (run(scripts / "add_server.sh", "db9", "10.0.0.9", "5432", "-3"), "CAPACITY"),
    ):
        assert_refused(result, said)
    assert snapshot(arguments_db) == before


@pytest.mark.parametrize(
    ("target", "said"),
    [
        (("clone-tenant", "SOURCE=a", "CODE=b", "DATA=maybe"), "DATA takes 1 or 0, not 'maybe'"),
        (("bench-cli", "ROUNDS=0"), "ROUNDS must be a whole number from 1 up"),
        (("bench-fanout", "FANOUT=100 5x"), "FANOUT must be a whole number"),
        (("bench-provision", "N=-2"), "N must be a whole number"),
    ],
)
def test_make_refuses_a_bad_switch_or_count_before_running_anything(target, said):
    result = run("make", "--no-print-directory", *target)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and said in result.stderr, result.stderr
    assert result.stdout == ""


# ------------------------------------------------------------------ pruning


def test_prune_keeps_manual_backups_and_names_what_it_removes(arguments_db, backups):
    ids = backup_ids(arguments_db)
    names = dict(query(arguments_db, "SELECT id, name FROM ipai_tenant_backup"))
    result = run_cli(arguments_db, "prune-backups")
    assert result.returncode == 0, result.stdout + result.stderr
    gone = {"scheduled-early", "manual-100-days"}
    expected = [
        f"pruned backup {ids[backups[label][2]]}: {names[ids[backups[label][2]]]}"
        for label in sorted(gone, key=lambda label: -ids[backups[label][2]])
    ]
    assert sorted(result.stdout.splitlines()[:-1]) == sorted(expected), result.stdout
    assert result.stdout.splitlines()[-1] == "2 backup(s) pruned"
    remaining = backup_ids(arguments_db)
    for label, (_kind, _taken, folder) in backups.items():
        kept = label not in gone
        assert (folder in remaining) == kept, label
        assert os.path.isdir(folder) == kept, label
    # Both manual backups of today stay, beside the newest scheduled one.
    again = run_cli(arguments_db, "prune-backups")
    assert again.returncode == 0 and again.stdout == "0 backup(s) pruned\n", again.stdout


# ------------------------------------------ skipped steps, pooled introspection


@pytest.fixture(scope="module")
def pooled_tenant(cli, platform_db):
    """A tenant that took a database from the trial plan's warm pool (the
    template is built by a first ordinary signup)."""
    with paused_cron(platform_db, "ir_cron_refill_pool"):
        seed = provision(cli, "arg-seed")
        filled = cli("refill-pool", "--plan", "trial", "--size", "1")
        assert filled.returncode == 0, filled.stdout + filled.stderr
        pooled = provision(cli, "arg-pooled")
        emptied = cli("refill-pool", "--plan", "trial", "--size", "0")
        assert emptied.returncode == 0, emptied.stdout + emptied.stderr
    [(database,)] = query(
        platform_db, "SELECT database_name FROM ipai_tenant WHERE code = 'arg-pooled'"
    )
    assert "_pool_" in database, database  # the pool's name, not odoo_<code>
    return {"seed": seed.stdout, "pooled": pooled.stdout, "database": database}


def test_a_step_that_did_nothing_says_skipped(pooled_tenant, platform_db):
    """A signup from the template, on the trial plan (no embedded BI)."""
    output = pooled_tenant["seed"]
    for step, reason in (("Neutralize", "nothing to neutralize"), ("Superset", "")):
        [line] = [line for line in output.splitlines() if step in line]
        assert " skipped: " in line and " done (" not in line, output
        assert reason in line.split(" skipped: ")[1], line
    assert " done (" in output  # the steps that did something
    [(reason,)] = query(
        platform_db,
        """SELECT s.skip_reason FROM ipai_tenant_job_step s
             JOIN ipai_tenant_job j ON j.id = s.job_id
             JOIN ipai_tenant t ON t.id = j.tenant_id
            WHERE t.code = 'arg-seed' AND s.name = 'superset_workspace'""",
    )
    assert reason


def test_introspection_titles_a_pooled_tenant_by_its_code(pooled_tenant, cli, tmp_path):
    result = cli("introspect", "--code", "arg-pooled", "--out", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    documented = f"{TENANT_DB_PREFIX}arg-pooled"
    markdown = (tmp_path / "arg-pooled.md").read_text()
    assert markdown.splitlines()[0] == f"# Schema of arg-pooled (database {documented})"
    dbml = (tmp_path / "arg-pooled.dbml").read_text()
    assert dbml.startswith('Project "arg-pooled" {'), dbml[:200]
    erd = json.loads((tmp_path / "arg-pooled.erd.json").read_text())
    assert (erd["title"], erd["database"]) == ("arg-pooled", documented)
    for text in (markdown, dbml, json.dumps(erd)):
        assert pooled_tenant["database"] not in text
