"""A customer brings its own Odoo 18 database: a stock Odoo made by the test
dumps itself (`odoo-bin db dump`, Odoo's own backup zip), `make
import-tenant` turns the zip into a tenant served by the tenant runtime,
with its data and files and without the source's passwords. Bad files are
refused before anything exists; an attacker's dump (psql commands, a
module beyond the plan planted behind an honest manifest) leaves nothing."""

import base64
import json
import re
import zipfile
from pathlib import Path

import pytest

from .support import (
    IMPORTED_FILE_BYTES,
    IMPORTED_PARTNER,
    SOURCE_CLERK,
    TENANT_DB_PREFIX,
    JsonRpc,
    RpcError,
    admin_password,
    import_leftovers,
    import_uploads,
    query,
    temporary_plan,
    tenant_login,
    tenant_row,
)


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


def test_an_odoo_18_backup_becomes_a_tenant_with_its_data_and_files(
    odoo_backup, cli, platform_db, tenant_server, credentials_dir, artifacts
):
    before = import_uploads()
    result = cli(
        "import-backup", "--code", "imported", "--file", str(odoo_backup),
        "--email", "admin@imported.example",
    )  # fmt: skip
    (artifacts / "import-tenant.txt").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    assert tenant_row(platform_db, "imported")[0] == "active"
    admin = tenant_login(tenant_server, "imported", credentials_dir)
    [partner] = admin.call(
        "res.partner", "search_read", [("name", "=", IMPORTED_PARTNER)], ["city"]
    )
    assert partner["city"] == "Ghent"
    [attachment] = admin.call(
        "ir.attachment", "search_read", [("name", "=", "contract.txt")], ["datas"]
    )
    assert base64.b64decode(attachment["datas"]) == IMPORTED_FILE_BYTES
    # The company is the customer's, not renamed after the tenant code.
    [company] = admin.call("res.company", "search_read", [], ["name"], limit=1)
    assert company["name"] != "imported"
    # The source's passwords stay out: its admin's, and its clerk's.
    for login, password in (("admin", "admin"), SOURCE_CLERK):
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
    assert import_uploads() == before
    audit = query(
        platform_db,
        "SELECT action FROM ipai_audit_log WHERE tenant_code = 'imported' ORDER BY id",
    )
    assert ("tenant:import",) in audit
    assert admin_password(credentials_dir, "imported")


@pytest.fixture(scope="module")
def tiny_plan(admin_rpc):
    # About 1 MB of storage: less than any Odoo dump.
    limits = {"max_storage_gb": 0.001}
    with temporary_plan(admin_rpc, "tiny", "Tiny storage", "contacts", **limits) as code:
        yield code


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
    case, odoo_backup, cli, platform_db, tiny_plan, tmp_path
):
    make, plan, message = BAD_FILES[case]
    path = make(odoo_backup, tmp_path / f"{case}.zip")
    code = f"bad-{case}"[:20].rstrip("-")
    before = import_uploads()
    result = cli("import-backup", "--code", code, "--file", str(path), "--plan", plan)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Nothing was created" in result.stdout + result.stderr
    assert re.search(message, result.stdout + result.stderr), result.stdout + result.stderr
    assert import_leftovers(platform_db, code) == []
    assert import_uploads() == before
    assert not Path("/tmp/pwned").exists()


def test_a_module_planted_behind_an_honest_manifest_leaves_nothing(
    odoo_backup, cli, platform_db, tmp_path
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

    path = rewritten(odoo_backup, tmp_path / "planted.zip", dump=plant)
    result = cli("import-backup", "--code", "planted", "--file", str(path))
    assert result.returncode != 0
    assert "crm" in result.stdout + result.stderr
    row = tenant_row(platform_db, "planted")
    assert row is None or row[0] == "failed"
    assert [item for item in import_leftovers(platform_db, "planted") if item != "tenant row"] == []
    assert not any(name.startswith("planted-") for name in import_uploads())
