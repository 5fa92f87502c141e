"""Schema documentation of a real tenant database: objects the tenant made
itself (an enum, a second schema with a foreign key into Odoo's tables, a
composite unique index) are all in the DBML, which @dbml/core parses with
node, in the Markdown next to Odoo's model and field descriptions, and in the
ERD graph; from the command line and from the tenant form's button."""

import io
import json
import os
import subprocess
import zipfile
from contextlib import closing

import psycopg2
import pytest
import requests

from .conftest import TENANT_DB_PREFIX
from .support import REPO_ROOT, provision, query

PARSER = REPO_ROOT / "tests" / "node" / "parse_dbml.js"


@pytest.fixture(scope="module")
def documented(cli, platform_db):
    """Tenant ``schemy`` with objects its own role created."""
    from odoo.addons.ipai_tenant_runtime import credentials

    provision(cli, "schemy")
    [(role,)] = query(platform_db, "SELECT runtime_role FROM ipai_tenant WHERE code = 'schemy'")
    # A tenant's role may not create schemas in its database (CREATE on the
    # database stays the platform's): the second schema is made for it, the
    # rest it makes itself.
    query(
        TENANT_DB_PREFIX + "schemy",
        f'CREATE SCHEMA crm_ext; GRANT USAGE, CREATE ON SCHEMA crm_ext TO "{role}"',
    )
    with (
        closing(
            psycopg2.connect(
                dbname=TENANT_DB_PREFIX + "schemy",
                user=role,
                password=credentials.role_password(role),
                host=os.environ.get("PGHOST", "127.0.0.1"),
                port=os.environ.get("PGPORT", "5432"),
            )
        ) as conn,
        conn.cursor() as cr,
    ):
        cr.execute(
            """
            CREATE TYPE crm_ext.mood AS ENUM ('happy', 'neutral', 'it''s complicated');
            CREATE TABLE crm_ext.visit (
                id serial PRIMARY KEY,
                partner_id integer NOT NULL REFERENCES public.res_partner(id) ON DELETE CASCADE,
                visited_on date NOT NULL,
                mood crm_ext.mood DEFAULT 'neutral',
                weight numeric(8, 2),
                tags text[]
            );
            COMMENT ON TABLE crm_ext.visit IS 'Field visits (made by the tenant)';
            CREATE UNIQUE INDEX visit_partner_day ON crm_ext.visit (partner_id, visited_on);
            CREATE TABLE crm_ext.visit_line (
                visit_id integer NOT NULL,
                line_no integer NOT NULL,
                note text,
                PRIMARY KEY (visit_id, line_no),
                FOREIGN KEY (visit_id) REFERENCES crm_ext.visit(id)
            );
            """
        )
        conn.commit()
    return "schemy"


def parse_dbml(path):
    result = subprocess.run(
        ["node", str(PARSER), str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_cli_writes_dbml_that_dbml_core_parses(cli, documented, tmp_path):
    result = cli("introspect", "--code", documented, "--format", "all", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "schemy.dbml",
        "schemy.erd.json",
        "schemy.md",
    ]
    parsed = parse_dbml(tmp_path / "schemy.dbml")
    schemas = {schema["name"]: schema for schema in parsed["schemas"]}
    assert {"public", "crm_ext"} <= set(schemas)
    assert {
        "schema": "crm_ext",
        "name": "mood",
        "values": ["happy", "neutral", "it's complicated"],
    } in parsed["enums"]
    visit = next(t for t in schemas["crm_ext"]["tables"] if t["name"] == "visit")
    assert visit["note"] == "Field visits (made by the tenant)"
    assert {
        "name": "visit_partner_day",
        "unique": True,
        "pk": False,
        "columns": ["partner_id", "visited_on"],
    } in visit["indexes"]
    line = next(t for t in schemas["crm_ext"]["tables"] if t["name"] == "visit_line")
    assert any(
        index["pk"] and index["columns"] == ["visit_id", "line_no"] for index in line["indexes"]
    )
    # The foreign key across schemas, into Odoo's own table.
    cross = [
        ref
        for ref in parsed["refs"]
        if [(e["schema"], e["table"]) for e in ref["endpoints"]]
        == [("crm_ext", "visit"), ("public", "res_partner")]
    ]
    assert len(cross) == 1 and cross[0]["onDelete"] == "cascade"
    partner = next(t for t in schemas["public"]["tables"] if t["name"] == "res_partner")
    assert "Contact (res.partner)" in partner["note"]
    assert len(schemas["public"]["tables"]) > 100


def test_markdown_and_erd_carry_keys_indexes_and_odoo_descriptions(cli, documented, tmp_path):
    for fmt in ("md", "erd"):
        assert (
            cli(
                "introspect", "--code", documented, "--format", fmt, "--out", str(tmp_path)
            ).returncode
            == 0
        )
    markdown = (tmp_path / "schemy.md").read_text()
    assert "### public.res_partner" in markdown
    assert "Odoo model `res.partner`: Contact." in markdown
    assert "| `name` | `character varying` | yes |" in markdown
    assert "FK public.res_partner.id" in markdown
    assert "- `visit_partner_day` (partner_id, visited_on) btree, unique" in markdown
    assert "| `crm_ext.mood` | `happy`, `neutral`, `it's complicated` |" in markdown
    erd = json.loads((tmp_path / "schemy.erd.json").read_text())
    nodes = {node["id"]: node for node in erd["nodes"]}
    assert nodes["public.res_partner"]["model"] == "res.partner"
    assert {"source": "crm_ext.visit_line", "target": "crm_ext.visit"} in [
        {"source": e["source"], "target": e["target"]} for e in erd["edges"]
    ]
    assert {e["target"] for e in erd["edges"]} <= set(nodes)


def test_unknown_or_unprovisioned_tenants_are_refused(cli, admin_rpc, tmp_path):
    result = cli("introspect", "--code", "no-such-tenant", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "no tenant with code 'no-such-tenant'" in result.stdout + result.stderr
    admin_rpc.call("ipai.tenant", "create", {"code": "paper", "name": "Paper"})
    result = cli("introspect", "--code", "paper", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "has no database to document" in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []


def test_form_button_downloads_the_three_documents(admin_rpc, documented):
    [tenant_id] = admin_rpc.call("ipai.tenant", "search", [("code", "=", documented)])
    action = admin_rpc.call("ipai.tenant", "action_download_schema", [tenant_id])
    assert action["type"] == "ir.actions.act_url"
    response = admin_rpc.session.get(admin_rpc.url + action["url"], timeout=60)
    response.raise_for_status()
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert sorted(archive.namelist()) == ["schemy.dbml", "schemy.erd.json", "schemy.md"]
        assert 'Enum "crm_ext"."mood"' in archive.read("schemy.dbml").decode()
    # Without the session (or as anyone who cannot read the tenant): no zip.
    anonymous = requests.get(admin_rpc.url + action["url"], timeout=30)
    assert not anonymous.content.startswith(b"PK")
