"""A plain-SQL dump replayed without psql.

An Odoo backup zip holds ``dump.sql``, a plain ``pg_dump``; Odoo restores
it with ``psql``. The file comes from a customer, and psql obeys its
backslash commands: ``\\! <shell>`` runs a program on the platform's host,
``\\o`` writes files, ``\\copy`` and ``\\i`` read them. So the dump is split
into statements here (quotes, identifiers, dollar quotes and comments
understood), and each one is checked against what ``pg_dump`` writes for an
Odoo database before it is sent, over an ordinary connection as the
tenant's own role, inside one transaction:

- a backslash outside quotes and data is refused, except pg_dump's own
  ``\\restrict`` / ``\\unrestrict`` lines, which are skipped;
- statements outside pg_dump's vocabulary (``ALTER ROLE``, ``DO``, ``SET
  ROLE``, ``COPY ... TO``...) are refused;
- privileges (``GRANT``/``REVOKE``) are skipped, as ``--no-privileges``
  does: the BI role stays read-only whatever the source granted;
- extensions: only the trusted ones Odoo uses, which the role may create.

``COPY ... FROM stdin`` data is streamed to PostgreSQL, never held whole.
"""

import re

import psycopg2
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError

# The settings pg_dump's preamble sets.
_SETTINGS = frozenset(
    {
        "statement_timeout",
        "lock_timeout",
        "idle_in_transaction_session_timeout",
        "transaction_timeout",
        "client_encoding",
        "standard_conforming_strings",
        "check_function_bodies",
        "xmloption",
        "client_min_messages",
        "row_security",
        "default_tablespace",
        "default_table_access_method",
        "default_with_oids",
    }
)
_EXTENSIONS = frozenset({"pg_trgm", "unaccent"})
_ALLOWED = re.compile(
    r"""^(?:
        CREATE\s+(?:UNIQUE\s+)?INDEX
      | CREATE\s+(?:UNLOGGED\s+)?TABLE
      | CREATE\s+SEQUENCE
      | CREATE\s+(?:OR\s+REPLACE\s+)?(?:VIEW|FUNCTION|TRIGGER|RULE)
      | CREATE\s+(?:MATERIALIZED\s+VIEW|TYPE|DOMAIN|AGGREGATE|COLLATION)
      | CREATE\s+TEXT\s+SEARCH
      | ALTER\s+(?:TABLE|SEQUENCE|INDEX|VIEW|MATERIALIZED\s+VIEW|TYPE|DOMAIN)\s
      | COMMENT\s+ON\s
      | SELECT\s+pg_catalog\.setval\(
      | SELECT\s+pg_catalog\.set_config\('search_path',\s*'',\s*false\)$
      | REFRESH\s+MATERIALIZED\s+VIEW\s
    )""",
    re.I | re.X,
)
_COPY = re.compile(r'^COPY\s+[\w."]+(?:\s*\([\w\s",]*\))?\s+FROM\s+stdin$', re.I)
_SET = re.compile(r"^SET\s+(\w+)\s*(?:=|TO)\s*(.+)$", re.I | re.S)
_EXTENSION = re.compile(
    r'^CREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?"?(\w+)"?(?:\s+WITH\s+SCHEMA\s+public)?$',
    re.I,
)
_SKIPPED = re.compile(r"^(?:GRANT|REVOKE)\s|^COMMENT\s+ON\s+EXTENSION\s", re.I)
_DUMP_LINE = re.compile(r"^\\(?:restrict|unrestrict) [A-Za-z0-9]+\s*$")
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z_0-9]*)?\$")
_IDENTIFIER_CHAR = re.compile(r"[A-Za-z0-9_$]")


class _Lines:
    """The dump's lines, read one at a time (a COPY's data goes straight to
    PostgreSQL from here)."""

    def __init__(self, stream):
        self._stream = stream
        self.number = 0

    def next(self):
        line = self._stream.readline()
        if line:
            self.number += 1
        return line


class _CopyData:
    """A COPY's rows as a file for psycopg2's ``copy_expert``: the lines up
    to pg_dump's ``\\.`` terminator."""

    def __init__(self, lines):
        self._lines = lines
        self._done = False

    def readline(self, _size=-1):
        if self._done:
            return ""
        line = self._lines.next()
        if not line:
            raise PermanentError("The dump ends inside a COPY's data.")
        if line.rstrip("\r\n") == "\\.":
            self._done = True
            return ""
        return line

    # copy_expert reads a line at a time, whatever size it asks for.
    read = readline


def statements(lines):
    """(statement text without its ``;``, line number) in order; a
    backslash command outside quotes is refused, pg_dump's own skipped."""
    text, state, tag, depth = [], None, None, 0
    while line := lines.next():
        if state is None and not "".join(text).strip() and line.startswith("\\"):
            if not _DUMP_LINE.match(line):
                raise PermanentError(
                    f"Line {lines.number} of the dump is a psql command; "
                    "a pg_dump of an Odoo database has none."
                )
            continue
        index, length = 0, len(line)
        while index < length:
            char = line[index]
            if state is None:
                if char == ";":
                    yield "".join(text).strip(), lines.number
                    text = []
                    index += 1
                    continue
                if char == "\\":
                    raise PermanentError(
                        f"Line {lines.number} of the dump holds a psql command; refused."
                    )
                if char == "'":
                    # E'...' strings take backslash escapes (\' stays inside).
                    escapes = (
                        index
                        and line[index - 1] in "eE"
                        and not (index > 1 and _IDENTIFIER_CHAR.match(line[index - 2]))
                    )
                    state = "E'" if escapes else "'"
                elif char == '"':
                    state = '"'
                elif line.startswith("--", index):
                    break
                elif line.startswith("/*", index):
                    state, depth = "/*", 1
                    index += 2
                    continue
                elif (
                    char == "$"
                    and not (index and _IDENTIFIER_CHAR.match(line[index - 1]))
                    and (match := _DOLLAR_TAG.match(line, index))
                ):
                    state, tag = "$", match.group()
                    text.append(tag)
                    index += len(tag)
                    continue
                text.append(char)
                index += 1
            elif state == "E'":
                text.append(char)
                index += 1
                if char == "\\" and index < length:
                    text.append(line[index])
                    index += 1
                elif char == "'":
                    if index < length and line[index] == "'":
                        text.append(char)
                        index += 1
                    else:
                        state = None
            elif state in ("'", '"'):
                text.append(char)
                index += 1
                if char == state:
                    # A doubled quote stays inside; the next char decides.
                    if index < length and line[index] == state:
                        text.append(char)
                        index += 1
                    else:
                        state = None
            elif state == "/*":
                if line.startswith("*/", index):
                    depth -= 1
                    index += 2
                    if not depth:
                        state = None
                        text.append(" ")
                elif line.startswith("/*", index):
                    depth += 1
                    index += 2
                else:
                    index += 1
            else:  # inside a dollar quote
                if line.startswith(tag, index):
                    text.append(tag)
                    index += len(tag)
                    state = None
                else:
                    text.append(char)
                    index += 1
        if state != "/*":
            text.append("\n" if state else " ")
    if "".join(text).strip() or state:
        raise PermanentError("The dump ends in the middle of a statement.")


def _refused(statement, number):
    first = " ".join(statement.split())[:120]
    return PermanentError(
        f"Line {number} of the dump is not what pg_dump writes for an Odoo "
        f"database; nothing was loaded: {first}"
    )


def classify(statement, number):
    """'run', 'copy' or 'skip' for one statement; PermanentError if refused."""
    flat = " ".join(statement.split())
    if _SKIPPED.match(flat):
        return "skip"
    if _COPY.match(flat):
        return "copy"
    setting = _SET.match(flat)
    if setting:
        name, value = setting.group(1).lower(), setting.group(2).strip().strip("'").upper()
        if name not in _SETTINGS:
            raise _refused(statement, number)
        if name == "standard_conforming_strings" and value != "ON":
            # Off, plain strings would take backslash escapes: split apart.
            raise _refused(statement, number)
        if name == "client_encoding" and value not in ("UTF8", "UTF-8"):
            raise PermanentError(f"The dump is encoded in {value}; only UTF8 can be imported.")
        return "run"
    extension = _EXTENSION.match(flat)
    if extension:
        if extension.group(1) not in _EXTENSIONS:
            raise PermanentError(
                f"The dump needs the extension {extension.group(1)}, which the platform "
                "does not provide; nothing was loaded."
            )
        return "run"
    if _ALLOWED.match(flat):
        return "run"
    raise _refused(statement, number)


def scan(stream):
    """Check a whole dump without running it (an import's request, before
    anything is made); returns the number of statements it would run."""
    lines = _Lines(stream)
    count = 0
    for statement, number in statements(lines):
        if not statement:
            continue
        action = classify(statement, number)
        if action == "copy":
            data = _CopyData(lines)
            while data.readline():
                pass
        count += action != "skip"
    return count


def load(connection, stream):
    """Replay the dump read from ``stream`` (text) over ``connection`` (the
    tenant's role, its scratch database) in one transaction; returns the
    number of statements run. Refused or failing: rolled back, and a
    PermanentError says where."""
    lines = _Lines(stream)
    count = 0
    connection.autocommit = False
    with connection.cursor() as cr:
        for statement, number in statements(lines):
            if not statement:
                continue
            action = classify(statement, number)
            if action == "skip":
                continue
            try:
                if action == "copy":
                    cr.copy_expert(statement, _CopyData(lines))
                else:
                    cr.execute(statement)
            except PermanentError:  # the COPY's data ended early
                connection.rollback()
                raise
            except psycopg2.Error as exc:
                connection.rollback()
                message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                raise PermanentError(
                    f"Line {number} of the dump failed; nothing was loaded: {message}"
                ) from exc
            count += 1
    connection.commit()
    return count
