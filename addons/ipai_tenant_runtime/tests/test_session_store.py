"""The tenant runtime hands OCA session_db its shared store."""

from unittest import mock

import odoo
from odoo.addons.ipai_tenant_runtime import credentials, session_store
from odoo.addons.ipai_tenant_runtime.tests.common import runtime

LOADED = ["base", "web", "session_db", "ipai_tenant_runtime"]


def _installed(mode, server_wide_modules=LOADED, environ=None, **options):
    environ = dict(environ or {})
    with (
        runtime(mode, db_host="pg-cell-1", db_port=5433, **options),
        mock.patch.object(odoo.conf, "server_wide_modules", server_wide_modules),
        mock.patch.dict("os.environ", environ, clear=False) as env,
    ):
        env.pop(session_store.URI_VARIABLE, None)
        env.update(environ)
        session_store.install()
        return env.get(session_store.URI_VARIABLE)


def test_the_store_is_its_own_database_opened_as_its_own_role():
    with runtime("tenant", db_host="pg-cell-1", db_port=5433, ipai_session_db="cell1_sessions"):
        password = credentials.role_password("cell1_sessions")
        assert session_store.store_uri() == (
            f"postgresql://cell1_sessions:{password}@pg-cell-1:5433/cell1_sessions"
        )


def test_the_tenant_runtime_points_session_db_at_the_store():
    uri = _installed("tenant")
    assert uri.startswith("postgresql://ipai_sessions:")
    assert uri.endswith("@pg-cell-1:5433/ipai_sessions")


def test_an_operators_store_wins():
    given = "postgresql://sessions@elsewhere/sessions"
    assert _installed("tenant", environ={session_store.URI_VARIABLE: given}) == given


def test_the_control_plane_and_plain_odoo_keep_odoos_own_store():
    assert _installed("platform") is None
    assert _installed(None) is None


def test_without_session_db_loaded_nothing_is_pointed_anywhere():
    assert _installed("tenant", server_wide_modules=["base", "web", "ipai_tenant_runtime"]) is None
