"""An imported Odoo backup, checked and split without PostgreSQL: what the
customer's file may hold, and what an attacker's file may not smuggle in
(psql commands, statements outside pg_dump's vocabulary, paths leaving the
filestore, another Odoo, modules or sizes beyond the plan)."""

import io
import json
import zipfile

import pytest
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError
from odoo.addons.ipai_tenant_data_safety.provisioning import imports, sql_script

PREAMBLE = """--
-- PostgreSQL database dump
--

\\restrict AbC123

SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
COMMENT ON EXTENSION pg_trgm IS 'text similarity; trigrams';
"""

BODY = """
CREATE TABLE public.res_partner (
    id integer NOT NULL,
    name character varying -- the partner's name; with a semicolon
);
/* a block comment; /* nested; */ still */
CREATE FUNCTION public.f() RETURNS text
    LANGUAGE sql AS $body$ SELECT 'a;b' ; $body$;
COMMENT ON TABLE public.res_partner IS E'it\\'s; fine';
COPY public.res_partner (id, name) FROM stdin;
1\tSemi; colon \\\\! not a command
2\tO'Brien
\\.
SELECT pg_catalog.setval('public.res_partner_id_seq', 2, true);
GRANT ALL ON SCHEMA public TO PUBLIC;

\\unrestrict AbC123
"""


def run(text):
    """What the loader would send: (action, statement) in order, the COPY
    data read as copy_expert would."""
    lines = sql_script._Lines(io.StringIO(text))
    sent = []
    for statement, number in sql_script.statements(lines):
        if not statement:
            continue
        action = sql_script.classify(statement, number)
        if action == "copy":
            data, reader = [], sql_script._CopyData(lines)
            while line := reader.readline():
                data.append(line)
            sent.append((action, statement, "".join(data)))
        else:
            sent.append((action, statement))
    return sent


def test_a_pg_dump_splits_into_its_statements_and_data():
    sent = run(PREAMBLE + BODY)
    actions = [entry[0] for entry in sent]
    assert actions.count("copy") == 1
    # Privileges and the extension's comment are skipped, as --no-privileges.
    skipped = [entry[1] for entry in sent if entry[0] == "skip"]
    assert any(s.startswith("GRANT") for s in skipped)
    assert any(s.startswith("COMMENT ON EXTENSION") for s in skipped)
    function = next(entry[1] for entry in sent if entry[1].startswith("CREATE FUNCTION"))
    assert "$body$ SELECT 'a;b' ; $body$" in function
    comment = next(entry[1] for entry in sent if entry[1].startswith("COMMENT ON TABLE"))
    assert comment.endswith("E'it\\'s; fine'")
    [copy] = [entry for entry in sent if entry[0] == "copy"]
    assert copy[2] == "1\tSemi; colon \\\\! not a command\n2\tO'Brien\n"
    assert sql_script.scan(io.StringIO(PREAMBLE + BODY)) == len(
        [entry for entry in sent if entry[0] != "skip"]
    )


@pytest.mark.parametrize(
    "attack",
    [
        "\\! touch /tmp/pwned\n",
        "SELECT pg_catalog.setval('public.s', 1, true); \\! id\n",
        "CREATE TABLE public.t (\n\\o /tmp/out\n id integer);\n",
        "\\copy public.t FROM '/etc/passwd'\n",
        "\\i /etc/passwd\n",
        "ALTER ROLE current_user PASSWORD 'known';\n",
        "SET ROLE postgres;\n",
        "SET session_authorization = 'postgres';\n",
        "DO $$ BEGIN PERFORM 1; END $$;\n",
        "COPY public.t TO '/tmp/leak';\n",
        "COPY public.t FROM PROGRAM 'id';\n",
        "SELECT pg_read_file('/etc/passwd');\n",
        "CREATE EXTENSION plpython3u;\n",
        "SET standard_conforming_strings = off;\n",
        "SET client_encoding = 'LATIN1';\n",
        "ALTER DATABASE x OWNER TO postgres;\n",
        # A statement whose text a naive splitter would cut at the quote
        # (an identifier with dollars is not a dollar quote).
        "COMMENT ON TABLE a$b$c IS 'x'; ALTER ROLE r; SELECT $b$ 'y';\n",
        "CREATE TABLE public.t (id integer); DROP TABLE public.res_users;\n",
    ],
)
def test_what_pg_dump_never_writes_is_refused(attack):
    with pytest.raises(PermanentError):
        run(PREAMBLE + attack)


def test_a_dump_cut_short_is_refused():
    with pytest.raises(PermanentError, match="ends"):
        run(PREAMBLE + "CREATE TABLE public.t (\n id integer")
    with pytest.raises(PermanentError, match="COPY"):
        run(PREAMBLE + "COPY public.t (id) FROM stdin;\n1\n")


# ------------------------------------------------------------- the zip

MODULES = {"base": "18.0.1.3", "web": "18.0.1.0", "contacts": "18.0.1.0"}
ALLOWED = frozenset({"base", "web", "contacts", "mail", "bus"})


def odoo_zip(path, version=(18, 0), modules=None, dump=PREAMBLE + BODY, files=None):
    manifest = {
        "odoo_dump": "1",
        "db_name": "source",
        "version": f"{version[0]}.{version[1]}",
        "version_info": [*version, 0, "final", 0, ""],
        "major_version": f"{version[0]}.{version[1]}",
        "pg_version": "15.0",
        "modules": modules or MODULES,
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        archive.writestr("dump.sql", dump)
        for name, content in (files or {"filestore/ab/abcdef": b"file"}).items():
            archive.writestr(name, content)
    return path


def test_an_odoo_18_backup_within_the_plan_passes(tmp_path):
    checked = imports.check(odoo_zip(tmp_path / "ok.zip"), ALLOWED, 1 << 20)
    assert checked.version == "18.0" and checked.file_count == 1
    assert set(checked.modules) == set(MODULES)


@pytest.mark.parametrize(
    ("kwargs", "limit", "message"),
    [
        ({"version": (17, 0)}, 1 << 20, "Odoo 17.0"),
        ({"modules": {**MODULES, "crm": "18.0.1.0"}}, 1 << 20, "crm"),
        ({}, 100, "more than the plan"),
        ({"files": {"filestore/../../escape": b"x"}}, 1 << 20, "outside its filestore"),
        ({"files": {"other.txt": b"x"}}, 1 << 20, "more than Odoo's"),
        ({"dump": PREAMBLE + "\\! id\n"}, 1 << 20, "psql command"),
    ],
)
def test_a_backup_outside_what_may_be_imported_is_refused(tmp_path, kwargs, limit, message):
    with pytest.raises(PermanentError, match=message) as refusal:
        imports.check(odoo_zip(tmp_path / "bad.zip", **kwargs), ALLOWED, limit)
    assert "Nothing was created" in str(refusal.value)


def test_a_damaged_or_foreign_file_is_refused(tmp_path):
    path = odoo_zip(tmp_path / "damaged.zip", dump=PREAMBLE + BODY * 50)
    data = bytearray(path.read_bytes())
    start = data.find(b"dump.sql") + 200  # inside the compressed dump
    data[start : start + 20] = bytes(20)
    path.write_bytes(bytes(data))
    with pytest.raises(PermanentError, match="damaged"):
        imports.check(path, ALLOWED, 1 << 20)
    other = tmp_path / "not.zip"
    other.write_text("hello")
    with pytest.raises(PermanentError, match="not a readable zip"):
        imports.check(other, ALLOWED, 1 << 20)


def test_an_upload_is_reached_by_the_names_the_platform_gives_only(tmp_path):
    assert imports.upload_path(str(tmp_path), "acme-0a1b.zip").endswith("imports/acme-0a1b.zip")
    for name in ("../x.zip", "/etc/passwd", "a/b.zip", "", ".hidden.zip", "x.tar"):
        with pytest.raises(PermanentError):
            imports.upload_path(str(tmp_path), name)
