"""A customer brings its own Odoo 18 database: a stock Odoo made by the test
dumps itself (`odoo-bin db dump`, Odoo's own backup zip), `make
import-tenant` turns the zip into a tenant served by the tenant runtime,
with its data and files and without the source's passwords. Bad files are
refused before anything exists; an attacker's dump (psql commands, a
module beyond the plan planted behind an honest manifest) leaves nothing."""

import base64
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

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
    query,
    stock_odoo,
    tenant_login,
    tenant_row,
)

FILE_BYTES = b"the customer's own file, brought along\n" * 40
PARTNER = "Imported Customer Ltd"
SOURCE_USER = ("clerk@source.example", "clerk-source-password-1")


def odoo_db_command(server, *args):
    return subprocess.run(
        [sys.executable, str(odoo_bin()), "db", "-c", str(server._config_file()), *args],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def source_zip(tmp_path_factory):
    """A stock Odoo 18 with contacts (the trial plan's app): a partner, a
    file attached to it, a second user with a password of its own; dumped
    by Odoo itself."""
    dbname = f"{RUN_ID}_stock_source"
    stock = stock_odoo(dbname)
    install = subprocess.run(
        [
            sys.executable,
            str(odoo_bin()),
            "-c",
            str(stock._config_file()),
            "-d",
            dbname,
            "-i",
            "contacts",
            "--without-demo=all",
            "--stop-after-init",
            "--http-port=0",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    out = tmp_path_factory.mktemp("import") / "source.zip"
    try:
        stock.start()
        rpc = JsonRpc(stock.url, dbname, "admin", "admin")
        partner_id = rpc.call("res.partner", "create", {"name": PARTNER, "city": "Ghent"})
        rpc.call(
            "ir.attachment",
            "create",
            {
                "name": "contract.txt",
                "res_model": "res.partner",
                "res_id": partner_id,
                "datas": base64.b64encode(FILE_BYTES).decode(),
            },
        )
        rpc.call(
            "res.users",
            "create",
            {"name": "Clerk", "login": SOURCE_USER[0], "password": SOURCE_USER[1]},
        )
        stock.stop()
        dump = odoo_db_command(stock, "dump", dbname, str(out))
        assert dump.returncode == 0, dump.stderr[-2000:]
    finally:
        stock.stop()
        drop_database(dbname)
    return out


def rewritten(source, target, manifest=None, dump=None):
    """``source`` with its manifest or dump changed: a customer's file gone
    wrong, or an attacker's."""
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as out:
        for info in archive.infolist():
            data = archive.read(info)
            if info.filename == "manifest.json" and manifest:
                data = json.dumps(manifest(json.loads(data))).encode()
            if info.filename == "dump.sql" and dump:
                data = dump(data.decode()).encode()
            out.writestr(info, data)
    return target


def leftovers(platform_db, code):
    """Everything an import could leave: its tenant row, its database (and
    scratch), roles, filestore and uploaded file."""
    found = []
    if tenant_row(platform_db, code):
        found.append("tenant row")
    for name in (TENANT_DB_PREFIX + code, TENANT_DB_PREFIX + code + "_restoring"):
        if database_exists(name):
            found.append(f"database {name}")
        if (FILESTORE / name).exists():
            found.append(f"filestore {name}")
    role = f"{RUN_ID}_r_{code.replace('-', '_')}"
    roles = query(
        "postgres", "SELECT rolname FROM pg_roles WHERE rolname IN %s", [(role, role + "__odoo")]
    )
    found.extend(f"role {name}" for (name,) in roles)
    return found


def uploads(platform_db):
    [(root,)] = query(
        platform_db,
        "SELECT value FROM ir_config_parameter WHERE key = 'ipai_tenant_core.backup_root'",
    ) or [(None,)]
    folder = Path(root or FILESTORE.parent / "backups") / "imports"
    return sorted(path.name for path in folder.glob("*")) if folder.exists() else []


def test_an_odoo_18_backup_becomes_a_tenant_with_its_data_and_files(
    source_zip, cli, platform_db, tenant_server, credentials_dir, artifacts
):
    before = uploads(platform_db)
    result = cli(
        "import-backup", "--code", "imported", "--file", str(source_zip),
        "--email", "admin@imported.example",
    )  # fmt: skip
    (artifacts / "import-tenant.txt").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    assert tenant_row(platform_db, "imported")[0] == "active"
    admin = tenant_login(tenant_server, "imported", credentials_dir)
    [partner] = admin.call("res.partner", "search_read", [("name", "=", PARTNER)], ["city"])
    assert partner["city"] == "Ghent"
    [attachment] = admin.call(
        "ir.attachment", "search_read", [("name", "=", "contract.txt")], ["datas"]
    )
    assert base64.b64decode(attachment["datas"]) == FILE_BYTES
    # The company is the customer's, not renamed after the tenant code.
    [company] = admin.call("res.company", "search_read", [], ["name"], limit=1)
    assert company["name"] != "imported"
    # The source's passwords stay out: its admin's, and its clerk's.
    for login, password in (("admin", "admin"), SOURCE_USER):
        with pytest.raises(RpcError):
            JsonRpc(
                tenant_server.url, TENANT_DB_PREFIX + "imported", login, password,
                host="imported.localhost",
            )  # fmt: skip
    # The platform's tenant modules came in; the plan's gate holds.
    installed = {
        row["name"]
        for row in admin.call(
            "ir.module.module", "search_read", [("state", "=", "installed")], ["name"]
        )
    }
    assert {"ipai_tenant_client", "contacts"} <= installed
    assert uploads(platform_db) == before
    audit = query(
        platform_db,
        "SELECT action FROM ipai_audit_log WHERE tenant_code = 'imported' ORDER BY id",
    )
    assert ("tenant:import",) in audit
    assert admin_password(credentials_dir, "imported")


@pytest.fixture(scope="module")
def tiny_plan(admin_rpc):
    [contacts] = admin_rpc.call("ir.module.module", "search", [("name", "=", "contacts")])
    plan_id = admin_rpc.call(
        "ipai.tenant.plan",
        "create",
        {
            "code": "tiny",
            "name": "Tiny storage",
            "max_storage_gb": 0.001,  # about 1 MB: less than any Odoo dump
            "module_ids": [(6, 0, [contacts])],
        },
    )
    yield "tiny"
    admin_rpc.call("ipai.tenant.plan", "write", [plan_id], {"active": False})


def _damaged(source, target):
    data = bytearray(Path(source).read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    target.write_bytes(bytes(data))
    return target


BAD_FILES = {
    "odoo-17": (
        lambda src, tmp: rewritten(
            src, tmp, manifest=lambda m: {**m, "version": "17.0", "version_info": [17, 0]}
        ),
        "trial",
        "only Odoo 18.0 backups",
    ),
    "module-outside-plan": (
        lambda src, tmp: rewritten(
            src, tmp, manifest=lambda m: {**m, "modules": {**m["modules"], "crm": "18.0.1.0"}}
        ),
        "trial",
        "modules the plan does not offer: crm",
    ),
    "damaged": (_damaged, "trial", "damaged|not a readable zip|does not match"),
    "too-big": (lambda src, tmp: Path(src), "tiny", "more than the plan"),
    "psql-command": (
        lambda src, tmp: rewritten(
            src,
            tmp,
            dump=lambda sql: sql.replace(
                "SET statement_timeout = 0;",
                "SET statement_timeout = 0;\n\\! touch /tmp/pwned",
            ),
        ),
        "trial",
        "psql command",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_backup_is_refused_with_nothing_created(
    case, source_zip, cli, platform_db, tiny_plan, tmp_path
):
    make, plan, message = BAD_FILES[case]
    path = make(source_zip, tmp_path / f"{case}.zip")
    code = f"bad-{case}"[:20].rstrip("-")
    before = uploads(platform_db)
    result = cli("import-backup", "--code", code, "--file", str(path), "--plan", plan)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Nothing was created" in result.stdout + result.stderr
    assert re.search(message, result.stdout + result.stderr), result.stdout + result.stderr
    assert leftovers(platform_db, code) == []
    assert uploads(platform_db) == before
    assert not Path("/tmp/pwned").exists()


def test_a_module_planted_behind_an_honest_manifest_leaves_nothing(
    source_zip, cli, platform_db, tmp_path
):
    """The manifest lists the plan's modules only, but the dump marks crm
    installed (a row added to ir_module_module's data): the job finds it in
    the loaded database and undoes everything it made."""

    def plant(sql):
        start = sql.index("COPY public.ir_module_module ")
        header_end = sql.index("\n", start)
        columns = sql[sql.index("(", start) + 1 : sql.index(")", start)].split(", ")
        row = []
        for column in columns:
            row.append({"id": "99999", "name": "crm", "state": "installed"}.get(column, "\\N"))
        return sql[: header_end + 1] + "\t".join(row) + "\n" + sql[header_end + 1 :]

    path = rewritten(source_zip, tmp_path / "planted.zip", dump=plant)
    result = cli("import-backup", "--code", "planted", "--file", str(path))
    assert result.returncode != 0
    assert "crm" in result.stdout + result.stderr
    row = tenant_row(platform_db, "planted")
    assert row is None or row[0] == "failed"
    assert [item for item in leftovers(platform_db, "planted") if item != "tenant row"] == []
    assert not any(name.startswith("planted-") for name in uploads(platform_db))
