"""The tenant runtime hands OCA session_db its shared store."""

from unittest import mock

import odoo
from odoo.addons.ipai_tenant_runtime import credentials, patching, session_store
from odoo.addons.ipai_tenant_runtime.tests.common import attributes_restored, runtime

LOADED = ("base", "web", "session_db", "ipai_tenant_runtime")


PATCHED = (
    "generate_key",
    "is_valid_key",
    "delete_from_identifiers",
    "get_missing_session_identifiers",
)


def _installed(mode, server_wide_modules=LOADED, environ=None, **options):
    """SESSION_DB_URI once ``install`` ran, and the session_db methods it patched."""
    from odoo.addons.session_db.pg_session_store import PGSessionStore

    with (
        runtime(mode, db_host="pg-cell-1", db_port=5433, **options),
        mock.patch.object(odoo.conf, "server_wide_modules", server_wide_modules),
        mock.patch.dict("os.environ", {}) as env,
        attributes_restored([(PGSessionStore, name) for name in PATCHED]),
    ):
        env.pop(session_store.URI_VARIABLE, None)
        env.update(environ or {})
        session_store.install()
        patched = {name for name in PATCHED if patching.applied(PGSessionStore, name)}
        return env.get(session_store.URI_VARIABLE), patched


def test_the_store_is_its_own_database_opened_as_its_own_role():
    with runtime("tenant", db_host="pg-cell-1", db_port=5433, ipai_session_db="cell1_sessions"):
        password = credentials.role_password("cell1_sessions")
        assert session_store.store_uri() == (
            f"postgresql://cell1_sessions:{password}@pg-cell-1:5433/cell1_sessions"
        )


def test_the_tenant_runtime_points_session_db_at_the_store():
    uri, patched = _installed("tenant")
    assert uri.startswith("postgresql://ipai_sessions:")
    assert uri.endswith("@pg-cell-1:5433/ipai_sessions")
    assert patched == set(PATCHED)


def test_an_operators_store_wins():
    given = "postgresql://sessions@elsewhere/sessions"
    uri, patched = _installed("tenant", environ={session_store.URI_VARIABLE: given})
    assert uri == given and patched == set(PATCHED)


def test_the_control_plane_and_plain_odoo_keep_odoos_own_store():
    assert _installed("platform") == (None, set())
    assert _installed(None) == (None, set())


def test_without_session_db_loaded_nothing_is_pointed_anywhere():
    modules = ("base", "web", "ipai_tenant_runtime")
    assert _installed("tenant", server_wide_modules=modules) == (None, set())


class _StoreCursor:
    """The store's cursor: the statements and parameters it was given."""

    def __init__(self, rows=()):
        self.executed = []
        self.rows = list(rows)

    def execute(self, query, params):
        self.executed.append((query, params))

    def fetchone(self):
        return self.rows.pop(0) if self.rows else None


def _store(cursor):
    from odoo.addons.session_db import pg_session_store

    store = object.__new__(pg_session_store.PGSessionStore)
    store._cr = cursor
    return store, pg_session_store


def test_an_identifier_is_a_literal_prefix():
    assert session_store.literal_prefix("ab_cd-ef") == "ab\\_cd-ef%"
    assert session_store.literal_prefix("50%\\") == "50\\%\\\\%"


def test_a_tenants_device_revoke_deletes_only_sessions_starting_with_its_identifier():
    cursor = _StoreCursor()
    store, module = _store(cursor)
    delete, _missing = session_store._literal_identifier_lookups(module)
    wildcard = "_" * 42
    delete(store, [wildcard, "short", "a" * 41 + "%"])
    # "_" * 42 is a well-formed identifier: deleted literally, never as 42
    # wildcards; the malformed ones are skipped.
    assert cursor.executed == [
        ("DELETE FROM http_sessions WHERE sid LIKE %s", ["\\_" * 42 + "%"]),
    ]


def test_missing_identifiers_are_looked_up_literally():
    cursor = _StoreCursor(rows=[(1,)])
    store, module = _store(cursor)
    _delete, missing = session_store._literal_identifier_lookups(module)
    present, absent = "a_" * 21, "b_" * 21
    assert missing(store, [present, absent]) == {absent}
    assert [params for _query, params in cursor.executed] == [
        ["a\\_" * 21 + "%"],
        ["b\\_" * 21 + "%"],
    ]


def test_session_ids_are_odoos_own_whose_device_identifier_is_half_of_one():
    from odoo.addons.session_db.pg_session_store import PGSessionStore

    with attributes_restored([(PGSessionStore, name) for name in PATCHED]):
        with runtime("tenant"), mock.patch.object(odoo.conf, "server_wide_modules", LOADED):
            session_store.install()
        store = object.__new__(PGSessionStore)
        store._cr = None  # no connection to close
        sid = store.generate_key()
        assert len(sid) == 84 and store.is_valid_key(sid)
        # A werkzeug id (what session_db makes as released) is no session here.
        assert not store.is_valid_key("0123456789abcdef0123456789abcdef01234567")
        # What Odoo logs of it (sid[:42]) is not a session id either.
        assert not store.is_valid_key(sid[:42])
