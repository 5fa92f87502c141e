"""`make list-tenants` and `make list-backups` read PostgreSQL directly
(scripts/tenants.py, TenantCLI) instead of loading Odoo: they must print,
byte for byte, what the ORM prints for the same records and filters."""

import json
import os

import pytest

from .support import copy_database, drop_database, run_cli, run_odoo_script

RUN_ID = os.environ.get("IPAI_TEST_RUN_ID", f"ipai_test_{os.getpid()}")

# Each listing, with the filters an operator passes.
LISTINGS = [
    ("list",),
    ("list", "--type", "client"),
    ("list", "--state", "suspended"),
    ("list", "--type", "provider", "--state", "draft"),
    ("list-backups",),
    ("list-backups", "--code", "lst-client"),
    ("list-backups", "--code", "lst-provider"),
]

# Tenants of every shape a row can take (no parent, a provider's client,
# suspended), and backups whose sizes fall on the ORM's rounding ties (0.25
# and 0.75 MB), one with no file sizes, two taken at the same second.
SEED = """
plans = env["ipai.tenant.plan"].search([], order="id")
tenants = env["ipai.tenant"]
provider = tenants.create(
    {"code": "lst-provider", "name": "Provider", "tenant_type": "provider", "plan_id": plans[0].id}
)
client = tenants.create(
    {"code": "lst-client", "name": "Client", "tenant_type": "client",
     "parent_id": provider.id, "plan_id": plans[-1].id}
)
# As if provisioned, then suspended (the lifecycle refuses it from draft).
env.cr.execute("UPDATE ipai_tenant SET state = 'suspended' WHERE id = %s", [client.id])
backups = env["ipai.tenant.backup"]
for tenant, kind, taken, dump_size, files_size, test_state in [
    (client, "manual", "2026-01-02 03:04:05", 262144, 0, "untested"),
    (client, "scheduled", "2026-01-02 03:04:05", 0, 786432, "passed"),
    (provider, "pre_archive", "2026-02-01 00:00:00", 123456789, 9876543, "failed"),
    (provider, "scheduled", "2025-12-31 23:59:59", False, False, "untested"),
]:
    backups.create({
        "tenant_id": tenant.id, "kind": kind, "backup_date": taken, "folder": "/nowhere",
        "dump_sha256": "0" * 64, "filestore_sha256": "0" * 64, "dump_size": dump_size,
        "filestore_size": files_size, "test_state": test_state,
    })
"""

# What the commands printed when they loaded the registry (the code they ran
# then), for every listing in LISTINGS; written as JSON to OUT.
ORM_LISTINGS = """
import json

def table(header, lines, noun):
    return [header, *lines, f"{len(lines)} {noun}(s)"]

def list_tenants(tenant_type=None, state=None):
    domain = [("tenant_type", "=", tenant_type)] if tenant_type else []
    domain += [("state", "=", state)] if state else []
    tenants = env["ipai.tenant"].search(domain, order="code")
    return table(
        f"{'CODE':<24} {'TYPE':<15} {'STATE':<13} {'PLAN':<13} {'PARENT':<16} DATABASE",
        [
            f"{t.code:<24} {t.tenant_type:<15} {t.state:<13} {t.plan_id.code or '':<13} "
            f"{t.parent_id.code or '':<16} {t.database_name or ''}"
            for t in tenants
        ],
        "tenant",
    )

def list_backups(code=None):
    tenant = env["ipai.tenant"].search([("code", "=", code)]) if code else None
    records = env["ipai.tenant.backup"].search([("tenant_id", "=", tenant.id)] if code else [])
    return table(
        f"{'ID':>6} {'TENANT':<24} {'TAKEN (UTC)':<20} {'KIND':<12} {'MB':>8} TEST",
        [
            f"{b.id:>6} {b.tenant_id.code:<24} {b.backup_date!s:<20} {b.kind:<12} "
            f"{b.size_mb:>8.1f} {b.test_state}"
            for b in records
        ],
        "backup",
    )

def run(command, *options):
    kwargs = {options[i].lstrip("-").replace("type", "tenant_type"): options[i + 1]
              for i in range(0, len(options), 2)}
    lines = (list_tenants if command == "list" else list_backups)(**kwargs)
    return "".join(line + "\\n" for line in lines)

with open(OUT, "w") as handle:
    json.dump({" ".join(args): run(*args) for args in LISTINGS}, handle)
"""


@pytest.fixture(scope="module")
def listings_db(template_db):
    name = f"{RUN_ID}_listings"
    drop_database(name)
    copy_database(template_db, name)
    run_odoo_script(name, SEED)
    yield name
    drop_database(name)


@pytest.fixture(scope="module")
def orm_output(listings_db, tmp_path_factory):
    out = tmp_path_factory.mktemp("listings") / "orm.json"
    run_odoo_script(listings_db, f"OUT = {str(out)!r}\nLISTINGS = {LISTINGS!r}\n{ORM_LISTINGS}")
    return json.loads(out.read_text())


@pytest.mark.parametrize("args", LISTINGS, ids=" ".join)
def test_listing_prints_what_the_orm_prints(listings_db, orm_output, args):
    result = run_cli(listings_db, *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout == orm_output[" ".join(args)]


def test_the_rounding_ties_are_rounded_up_as_the_orm_does(listings_db, orm_output):
    listing = orm_output["list-backups --code lst-client"]
    assert "     0.3 untested" in listing and "     0.8 passed" in listing, listing


def test_an_unknown_tenant_code_is_bad_input(listings_db):
    result = run_cli(listings_db, "list-backups", "--code", "no-such-tenant")
    assert result.returncode == 2
    assert result.stderr == "error: no tenant with code 'no-such-tenant'\n"
    assert result.stdout == ""


def test_a_missing_database_is_an_error_not_a_traceback(listings_db):
    result = run_cli(f"{listings_db}_missing", "list")
    assert result.returncode == 1
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr
