"""The schema of a tenant database, read from the PostgreSQL catalogs, and
written out as DBML (dbdiagram.io, @dbml/core), Markdown and an ERD graph.

The caller passes the server as the tenant's own role (runtime_access.as_role):
the catalogs show that role what it owns, which is the whole tenant database
and nothing of any other. Everything is read in a handful of catalog queries
over the whole database (not one per table), in one read-only transaction,
so a database with a few thousand tables is read in well under a second.

Odoo's own descriptions come from ir_model / ir_model_fields when the
database is an Odoo one: a table ``sale_order`` is the model ``sale.order``
(Odoo's default table name), a stored field is a column of the same name.
"""

import json
import re
from dataclasses import dataclass, field

FORMATS = ("dbml", "md", "erd")
FILE_SUFFIXES = {"dbml": ".dbml", "md": ".md", "erd": ".erd.json"}
# Schemas PostgreSQL and its extensions keep for themselves.
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")
FK_ACTIONS = {"a": None, "r": "restrict", "c": "cascade", "n": "set null", "d": "set default"}


@dataclass
class Column:
    name: str
    type: str
    nullable: bool
    default: str | None
    comment: str | None
    enum: tuple | None = None  # (schema, name) of an enum type
    odoo_label: str | None = None
    odoo_type: str | None = None
    odoo_help: str | None = None
    odoo_relation: str | None = None


@dataclass
class Table:
    schema: str
    name: str
    kind: str  # "table", "partitioned table", "view", "materialized view"
    comment: str | None
    columns: list = field(default_factory=list)
    primary_key: list = field(default_factory=list)
    uniques: list = field(default_factory=list)  # [(name, [columns])]
    indexes: list = field(default_factory=list)  # [Index]
    model: str | None = None
    model_label: str | None = None
    model_info: str | None = None

    @property
    def key(self):
        return f"{self.schema}.{self.name}"


@dataclass
class Index:
    name: str
    columns: list  # column names, or SQL expressions for expression keys
    expressions: list  # True where the key is an expression
    unique: bool
    primary: bool
    method: str
    predicate: str | None
    definition: str


@dataclass
class ForeignKey:
    name: str
    schema: str
    table: str
    columns: list
    ref_schema: str
    ref_table: str
    ref_columns: list
    on_delete: str | None
    on_update: str | None


@dataclass
class Schema:
    database: str  # the name clients know it by
    tables: list
    foreign_keys: list
    enums: list  # [(schema, name, [labels])]
    server_version: str
    odoo: bool
    title: str | None = None  # what it documents (a tenant's code); default: the database

    @property
    def heading(self):
        if not self.title or self.title == self.database:
            return self.database
        return f"{self.title} (database {self.database})"

    def table(self, schema, name):
        return next((t for t in self.tables if t.schema == schema and t.name == name), None)


# ------------------------------------------------------------------ reading

_TABLES = """
    SELECT c.oid, n.nspname, c.relname, c.relkind, obj_description(c.oid, 'pg_class')
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
       AND n.nspname <> ALL(%(system)s) AND n.nspname NOT LIKE 'pg\\_%%'
     ORDER BY n.nspname, c.relname
"""
_COLUMNS = """
    SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
           pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum),
           CASE WHEN t.typtype = 'e' THEN tn.nspname END,
           CASE WHEN t.typtype = 'e' THEN t.typname END
      FROM pg_attribute a
      JOIN pg_type t ON t.oid = a.atttypid
      JOIN pg_namespace tn ON tn.oid = t.typnamespace
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attrelid = ANY(%(oids)s) AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attrelid, a.attnum
"""
_CONSTRAINTS = """
    SELECT con.conname, con.contype, con.conrelid, con.confrelid, con.confdeltype, con.confupdtype,
           ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, pos)
                   JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
                  ORDER BY k.pos),
           ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(num, pos)
                   JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
                  ORDER BY k.pos)
      FROM pg_constraint con
     WHERE con.conrelid = ANY(%(oids)s) AND con.contype IN ('p', 'u', 'f')
     ORDER BY con.conrelid, con.conname
"""
_INDEXES = """
    SELECT i.indrelid, ic.relname, i.indisunique, i.indisprimary, am.amname,
           pg_get_expr(i.indpred, i.indrelid), pg_get_indexdef(i.indexrelid),
           ARRAY(SELECT CASE WHEN k.num = 0 THEN NULL ELSE a.attname END
                   FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(num, pos)
                   LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num
                  WHERE k.pos <= i.indnkeyatts ORDER BY k.pos),
           ARRAY(SELECT pg_get_indexdef(i.indexrelid, k.pos::int, true)
                   FROM generate_series(1, i.indnkeyatts) k(pos) ORDER BY k.pos)
      FROM pg_index i
      JOIN pg_class ic ON ic.oid = i.indexrelid
      JOIN pg_am am ON am.oid = ic.relam
     WHERE i.indrelid = ANY(%(oids)s)
     ORDER BY i.indrelid, ic.relname
"""
_ENUMS = """
    SELECT n.nspname, t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)
      FROM pg_type t
      JOIN pg_namespace n ON n.oid = t.typnamespace
      JOIN pg_enum e ON e.enumtypid = t.oid
     WHERE n.nspname <> ALL(%(system)s) AND n.nspname NOT LIKE 'pg\\_%%'
     GROUP BY n.nspname, t.typname
     ORDER BY n.nspname, t.typname
"""
_ODOO_MODELS = """
    SELECT model, name->>'en_US', info FROM ir_model
"""
_ODOO_FIELDS = """
    SELECT model, name, field_description->>'en_US', ttype, relation, help->>'en_US'
      FROM ir_model_fields WHERE store
"""


def read_schema(server, dbname, title=None, documented_as=None):
    """The schema of ``dbname`` as ``server``'s role sees it, titled
    ``title`` and named ``documented_as`` (a pooled tenant's database has a
    name of the pool's; its documents name the tenant and ``odoo_<code>``)."""
    with server.connect(dbname) as conn:
        conn.autocommit = False
        conn.set_session(readonly=True)
        with conn.cursor() as cr:
            schema = _read(cr, documented_as or dbname)
        conn.rollback()
    schema.title = title
    return schema


def _read(cr, dbname):
    system = list(SYSTEM_SCHEMAS)
    cr.execute("SHOW server_version")
    (version,) = cr.fetchone()
    cr.execute(_TABLES, {"system": system})
    kinds = {"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view"}
    tables = {}
    for oid, schema, name, kind, comment in cr.fetchall():
        tables[oid] = Table(schema, name, kinds[kind], comment)
    oids = list(tables)
    cr.execute(_COLUMNS, {"oids": oids})
    for oid, name, type_, nullable, default, comment, enum_schema, enum_name in cr.fetchall():
        enum = (enum_schema, enum_name) if enum_name else None
        tables[oid].columns.append(Column(name, type_, nullable, default, comment, enum))
    cr.execute(_CONSTRAINTS, {"oids": oids})
    foreign_keys = []
    for name, kind, oid, ref_oid, on_delete, on_update, columns, ref_columns in cr.fetchall():
        table = tables[oid]
        if kind == "p":
            table.primary_key = list(columns)
        elif kind == "u":
            table.uniques.append((name, list(columns)))
        elif ref_oid in tables:
            ref = tables[ref_oid]
            foreign_keys.append(
                ForeignKey(
                    name,
                    table.schema,
                    table.name,
                    list(columns),
                    ref.schema,
                    ref.name,
                    list(ref_columns),
                    FK_ACTIONS.get(on_delete),
                    FK_ACTIONS.get(on_update),
                )
            )
    cr.execute(_INDEXES, {"oids": oids})
    for oid, name, unique, primary, method, predicate, definition, columns, keys in cr.fetchall():
        expressions = [column is None for column in columns]
        names = [
            key if column is None else column for column, key in zip(columns, keys, strict=True)
        ]
        tables[oid].indexes.append(
            Index(name, names, expressions, unique, primary, method, predicate, definition)
        )
    cr.execute(_ENUMS, {"system": system})
    enums = [(schema, name, list(labels)) for schema, name, labels in cr.fetchall()]
    schema = Schema(dbname, list(tables.values()), foreign_keys, enums, version, odoo=False)
    _add_odoo_descriptions(cr, schema)
    return schema


def _add_odoo_descriptions(cr, schema):
    cr.execute("SELECT to_regclass('public.ir_model'), to_regclass('public.ir_model_fields')")
    if None in cr.fetchone():
        return
    schema.odoo = True
    cr.execute(_ODOO_MODELS)
    models = {model: (label, info) for model, label, info in cr.fetchall()}
    cr.execute(_ODOO_FIELDS)
    fields = {}
    for model, name, label, ttype, relation, help_text in cr.fetchall():
        fields.setdefault(model, {})[name] = (label, ttype, relation, help_text)
    by_table = {model.replace(".", "_"): model for model in models}
    for table in schema.tables:
        model = by_table.get(table.name) if table.schema == "public" else None
        if not model:
            continue
        table.model = model
        table.model_label, table.model_info = models[model]
        for column in table.columns:
            described = fields.get(model, {}).get(column.name)
            if described:
                column.odoo_label, column.odoo_type, column.odoo_relation, column.odoo_help = (
                    described
                )


# ------------------------------------------------------------------ writing


def render(schema, fmt):
    return {"dbml": to_dbml, "md": to_markdown, "erd": to_erd_json}[fmt](schema)


_PLAIN_TYPE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\(\d+(,\d+)?\))?$")


def _q(name):
    """A DBML quoted identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _s(text):
    """A DBML single-quoted string."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def _dbml_type(column):
    if column.enum:
        return f"{_q(column.enum[0])}.{_q(column.enum[1])}"
    compact = column.type.replace(", ", ",")
    return compact if _PLAIN_TYPE.match(compact) else _q(column.type)


def _note(*parts):
    return " - ".join(part for part in parts if part)


def to_dbml(schema):
    lines = [
        f"Project {_q(schema.title or schema.database)} {{",
        "  database_type: 'PostgreSQL'",
        f"  Note: {_s(f'Schema of {schema.heading}, PostgreSQL {schema.server_version}')}",
        "}",
        "",
    ]
    for enum_schema, name, labels in schema.enums:
        lines.append(f"Enum {_q(enum_schema)}.{_q(name)} {{")
        lines += [f"  {_q(label)}" for label in labels]
        lines += ["}", ""]
    for table in schema.tables:
        note = _note(
            f"{table.model_label} ({table.model})" if table.model else None,
            table.kind if table.kind != "table" else None,
            # Odoo comments each table with its model's description.
            table.comment if table.comment != table.model_label else None,
        )
        settings = f" [note: {_s(note)}]" if note else ""
        lines.append(f"Table {_q(table.schema)}.{_q(table.name)}{settings} {{")
        single_pk = table.primary_key if len(table.primary_key) == 1 else []
        for column in table.columns:
            attrs = []
            if column.name in single_pk:
                attrs.append("pk")
            if not column.nullable:
                attrs.append("not null")
            column_note = _note(column.odoo_label, column.comment)
            if column_note:
                attrs.append(f"note: {_s(column_note)}")
            suffix = f" [{', '.join(attrs)}]" if attrs else ""
            lines.append(f"  {_q(column.name)} {_dbml_type(column)}{suffix}")
        index_lines = []
        if len(table.primary_key) > 1:
            keys = ", ".join(_q(c) for c in table.primary_key)
            index_lines.append(f"    ({keys}) [pk]")
        for index in table.indexes:
            if index.primary:
                continue
            keys = [
                f"`{key}`" if expression else _q(key)
                for key, expression in zip(index.columns, index.expressions, strict=True)
            ]
            attrs = [f"name: {_s(index.name)}"]
            if index.unique:
                attrs.append("unique")
            # DBML knows btree and hash; other methods and partial indexes
            # are told in the note.
            if index.method in ("btree", "hash"):
                attrs.append(f"type: {index.method}")
            note = _note(
                None if index.method in ("btree", "hash") else f"using {index.method}",
                f"WHERE {index.predicate}" if index.predicate else None,
            )
            if note:
                attrs.append(f"note: {_s(note)}")
            target = keys[0] if len(keys) == 1 else f"({', '.join(keys)})"
            index_lines.append(f"    {target} [{', '.join(attrs)}]")
        if index_lines:
            lines += ["", "  Indexes {", *index_lines, "  }"]
        lines += ["}", ""]
    for fk in schema.foreign_keys:
        source = _dbml_columns(fk.schema, fk.table, fk.columns)
        target = _dbml_columns(fk.ref_schema, fk.ref_table, fk.ref_columns)
        attrs = []
        if fk.on_delete:
            attrs.append(f"delete: {fk.on_delete}")
        if fk.on_update:
            attrs.append(f"update: {fk.on_update}")
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"Ref {_q(fk.name)}: {source} > {target}{suffix}")
    return "\n".join(lines) + "\n"


def _dbml_columns(schema, table, columns):
    prefix = f"{_q(schema)}.{_q(table)}"
    if len(columns) == 1:
        return f"{prefix}.{_q(columns[0])}"
    return f"{prefix}.({', '.join(_q(c) for c in columns)})"


def _md(text):
    return (text or "").replace("|", "\\|").replace("\n", " ").strip()


def to_markdown(schema):
    out = [
        f"# Schema of {schema.heading}",
        "",
        f"PostgreSQL {schema.server_version}: {len(schema.tables)} tables and views, "
        f"{len(schema.foreign_keys)} foreign keys, {len(schema.enums)} enum types"
        + (", with Odoo's model and field descriptions." if schema.odoo else "."),
        "",
    ]
    if schema.enums:
        out += ["## Enum types", "", "| enum | values |", "|---|---|"]
        out += [
            f"| `{enum_schema}.{name}` | {', '.join(f'`{label}`' for label in labels)} |"
            for enum_schema, name, labels in schema.enums
        ]
        out.append("")
    refs = {}
    for fk in schema.foreign_keys:
        refs.setdefault((fk.schema, fk.table), []).append(fk)
    out += ["## Tables", ""]
    for table in schema.tables:
        out.append(f"### {table.schema}.{table.name}")
        out.append("")
        if table.model:
            out.append(f"Odoo model `{table.model}`: {_md(table.model_label)}.")
            if table.model_info:
                out.append(f"{_md(table.model_info)}")
            out.append("")
        if table.kind != "table" or table.comment:
            out += [_md(_note(table.kind if table.kind != "table" else None, table.comment)), ""]
        keyed = {}
        for column_name in table.primary_key:
            keyed.setdefault(column_name, []).append("PK")
        for fk in refs.get((table.schema, table.name), []):
            for column_name, ref_column in zip(fk.columns, fk.ref_columns, strict=True):
                keyed.setdefault(column_name, []).append(
                    f"FK {fk.ref_schema}.{fk.ref_table}.{ref_column}"
                )
        out += [
            "| column | type | null | default | key | Odoo field | description |",
            "|---|---|---|---|---|---|---|",
        ]
        for column in table.columns:
            odoo = f"{column.odoo_label} ({column.odoo_type})" if column.odoo_label else ""
            if column.odoo_relation:
                odoo += f" → `{column.odoo_relation}`"
            out.append(
                f"| `{column.name}` | `{_md(column.type)}` | {'yes' if column.nullable else 'no'} "
                f"| {('`' + _md(column.default) + '`') if column.default else ''} "
                f"| {', '.join(keyed.get(column.name, []))} | {_md(odoo)} "
                f"| {_md(_note(column.odoo_help, column.comment))} |"
            )
        if table.indexes:
            out += ["", "Indexes:", ""]
            for index in table.indexes:
                flags = ", ".join(
                    flag
                    for flag, on in (("primary", index.primary), ("unique", index.unique))
                    if on
                )
                out.append(
                    f"- `{index.name}` ({', '.join(index.columns)}) {index.method}"
                    + (f", {flags}" if flags else "")
                    + (f", where `{_md(index.predicate)}`" if index.predicate else "")
                )
        if table.uniques:
            out += ["", "Unique constraints:", ""]
            out += [f"- `{name}` ({', '.join(columns)})" for name, columns in table.uniques]
        out.append("")
    return "\n".join(out)


def to_erd(schema):
    return {
        "database": schema.database,
        "title": schema.title or schema.database,
        "nodes": [
            {
                "id": table.key,
                "schema": table.schema,
                "table": table.name,
                "kind": table.kind,
                "model": table.model,
                "label": table.model_label or table.name,
                "columns": [
                    {
                        "name": column.name,
                        "type": column.type,
                        "nullable": column.nullable,
                        "pk": column.name in table.primary_key,
                        "label": column.odoo_label,
                    }
                    for column in table.columns
                ],
            }
            for table in schema.tables
        ],
        "edges": [
            {
                "id": f"{fk.schema}.{fk.table}.{fk.name}",
                "source": f"{fk.schema}.{fk.table}",
                "target": f"{fk.ref_schema}.{fk.ref_table}",
                "columns": fk.columns,
                "ref_columns": fk.ref_columns,
                "on_delete": fk.on_delete,
            }
            for fk in schema.foreign_keys
        ],
        "enums": [
            {"schema": enum_schema, "name": name, "values": labels}
            for enum_schema, name, labels in schema.enums
        ],
    }


def to_erd_json(schema):
    return json.dumps(to_erd(schema), indent=1, sort_keys=True) + "\n"
