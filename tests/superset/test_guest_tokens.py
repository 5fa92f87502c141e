"""Guest tokens end to end: a tenant's Odoo asks a real Superset for them, and
Superset's own chart-data API shows what a token can read."""

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from contextlib import closing

import pytest
import requests
from odoo.addons.ipai_tenant_runtime import credentials

from ..support import JsonRpc, pg_connect, provision, query, tenant_login
from .conftest import SALES, guest_token, make_workspace, run_workspace_cli


def verify_hs256(token, secret, audience):
    """Verify a JWT the way Superset does (HS256, audience, expiry)."""
    header, payload, signature = token.split(".")

    def decode(part):
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    assert json.loads(decode(header))["alg"] == "HS256"
    expected = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert hmac.compare_digest(expected, decode(signature)), "signature does not verify"
    claims = json.loads(decode(payload))
    assert claims["aud"] == audience
    assert claims["exp"] > time.time()
    return claims


def chart_rows(superset, tenant, headers):
    workspace = tenant.workspace
    response = requests.post(
        f"{superset.url}/api/v1/chart/data",
        headers=headers,
        json={
            "datasource": {"id": int(workspace["dataset_id"]), "type": "table"},
            "force": True,
            "queries": [{"columns": ["tenant_code", "region", "amount"], "row_limit": 1000}],
            "form_data": {
                "dashboardId": workspace["dashboard_id"],
                "slice_id": workspace["chart_id"],
                "viz_type": "table",
                "datasource": f"{workspace['dataset_id']}__table",
            },
            "result_format": "json",
            "result_type": "full",
        },
        timeout=60,
    )
    return response.status_code, (
        response.json()["result"][0]["data"] if response.status_code == 200 else response.text
    )


def test_token_verifies_and_carries_the_dashboard_and_the_tenant_clause(
    superset, bi_tenants, bi_server, tenant_admins
):
    acme = bi_tenants["acme"]
    response = guest_token(tenant_admins["acme"].session, bi_server, acme.dashboard_id)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    claims = verify_hs256(body["token"], superset.guest_secret, superset.audience)
    assert claims["type"] == "guest"
    assert claims["resources"] == [{"type": "dashboard", "id": acme.workspace["uuid"]}]
    assert claims["rls_rules"] == [{"clause": f"tenant_code = '{acme.code}'"}]
    assert claims["user"]["username"] == acme.login
    assert body["embedded_uuid"] == acme.workspace["uuid"]
    assert body["superset_url"] == superset.url
    assert 0 < body["refresh_in"] < claims["exp"] - time.time()


def test_a_query_with_the_token_returns_only_the_tenants_rows(
    superset, bi_tenants, bi_server, tenant_admins
):
    admin = {"Authorization": f"Bearer {superset.login('admin', superset.admin_password)}"}
    for key, tenant in bi_tenants.items():
        other = bi_tenants["beta" if key == "acme" else "acme"]
        # Superset's administrator sees the planted row of the other tenant...
        status, rows = chart_rows(superset, tenant, admin)
        assert status == 200, rows
        assert {row["tenant_code"] for row in rows} == {tenant.code, other.code}
        # ...a guest token from the tenant's Odoo does not.
        token = guest_token(tenant_admins[key].session, bi_server, tenant.dashboard_id).json()
        status, rows = chart_rows(superset, tenant, {"X-GuestToken": token["token"]})
        assert status == 200, rows
        assert sorted((row["region"], row["amount"]) for row in rows) == sorted(SALES[key])
        assert {row["tenant_code"] for row in rows} == {tenant.code}
        # Nor can it read the other tenant's dashboard at all.
        status, _rows = chart_rows(superset, other, {"X-GuestToken": token["token"]})
        assert status == 403


def test_a_cached_token_costs_no_superset_call(bi_tenants, bi_server, tenant_admins):
    acme = bi_tenants["acme"]
    session = tenant_admins["acme"].session
    first = guest_token(session, bi_server, acme.dashboard_id).json()["token"]
    minted_before = _guest_tokens_minted()
    tokens = {first} | {
        guest_token(session, bi_server, acme.dashboard_id).json()["token"] for _ in range(16)
    }
    # Two Odoo workers, one cache each: at most one token per worker (either
    # may hold one from an earlier test), and at most one more minted, for a
    # worker that had none.
    assert len(tokens) <= 2
    assert _guest_tokens_minted() - minted_before <= 1


def _guest_tokens_minted():
    """Superset's own count of guest-token requests (its event log)."""
    return query("ipai_superset_meta", "SELECT count(*) FROM logs WHERE action = 'guest_token'")[0][
        0
    ]


def test_a_user_outside_the_allowed_groups_gets_403_and_no_menu(
    bi_tenants, bi_server, tenant_admins
):
    acme = bi_tenants["acme"]
    admin = tenant_admins["acme"]
    viewers = admin.call("res.groups", "create", {"name": "BI viewers"})
    admin.call(
        "ipai.bi.dashboard", "write", [acme.dashboard_id], {"group_ids": [(6, 0, [viewers])]}
    )
    outsider = _user(admin, acme, "outsider", [])
    insider = _user(admin, acme, "insider", [viewers])
    try:
        response = guest_token(outsider.session, bi_server, acme.dashboard_id)
        assert response.status_code == 403
        assert "token" not in response.json()
        assert guest_token(insider.session, bi_server, acme.dashboard_id).status_code == 200
        (menu_id,) = admin.call("ipai.bi.dashboard", "read", [acme.dashboard_id], ["menu_id"])[0][
            "menu_id"
        ][:1]
        assert menu_id not in _visible_menus(outsider)
        assert menu_id in _visible_menus(insider)
    finally:
        admin.call(
            "ipai.bi.dashboard",
            "write",
            [acme.dashboard_id],
            {"group_ids": [(6, 0, [_ref(admin, "base.group_user")])]},
        )


def test_no_token_for_a_dashboard_outside_the_workspace(
    superset, bi_tenants, bi_server, tenant_admins
):
    acme, beta = bi_tenants["acme"], bi_tenants["beta"]
    admin = tenant_admins["acme"]
    foreign = admin.call(
        "ipai.bi.dashboard", "create", {"name": "Not ours", "embedded_uuid": beta.workspace["uuid"]}
    )
    try:
        response = guest_token(admin.session, bi_server, foreign)
        assert response.status_code == 403
        assert "not in this workspace" in response.json()["error"]
    finally:
        admin.call("ipai.bi.dashboard", "unlink", [foreign])
    # Superset refuses it too, whatever a tenant's service account asks for:
    # another workspace's dashboard, or another clause than its tenant's.
    params = acme.params()
    password = credentials.open_for_database(
        acme.database, params["ipai_bi_superset_embed.password"]
    )["password"]
    bearer = superset.login(params["ipai_bi_superset_embed.username"], password)
    own_clause = [{"clause": f"tenant_code = '{acme.code}'"}]
    for uuid, rls in (
        (beta.workspace["uuid"], own_clause),
        (acme.workspace["uuid"], [{"clause": "1 = 1"}]),
        (acme.workspace["uuid"], []),
    ):
        response = requests.post(
            f"{superset.url}/api/v1/security/guest_token/",
            headers={"Authorization": f"Bearer {bearer}"},
            json={
                "user": {"username": "x"},
                "resources": [{"type": "dashboard", "id": uuid}],
                "rls": rls,
            },
            timeout=30,
        )
        assert response.status_code == 400, (uuid, rls, response.text)


def test_workspace_provisioning_is_idempotent(
    superset, bi_tenants, bi_server, platform_db, workspaces
):
    api = superset.admin_api()

    def snapshot():
        return {
            resource: sorted(
                row["id"] for row in api.get(f"/api/v1/{resource}/", q="(page_size:100)")["result"]
            )
            for resource in ("database", "dataset", "chart", "dashboard")
        }

    before = snapshot()
    acme = bi_tenants["acme"]
    params_before = acme.params()
    printed = make_workspace(platform_db, acme, bi_server)
    assert "nothing changed" in printed
    assert "created" not in printed
    assert snapshot() == before
    assert acme.params() == params_before
    # The first run said what it made.
    assert "created database connection" in workspaces["acme"]
    assert "created service account" in workspaces["acme"]


def test_a_new_tenant_database_gets_its_role_password_into_superset(
    superset, bi_tenants, bi_server, platform_db, workspaces, tenant_admins
):
    """A create that failed after its workspace step is undone (database and
    role dropped) and retried: the new role has a new password while the
    workspace stays. Provisioning the new database must give Superset's
    connection that password, or every chart fails to log in."""
    beta = bi_tenants["beta"]
    api = superset.admin_api()
    (connection,) = api.find("database", [("database_name", "eq", f"ipai_{beta.code}")])
    # The connection logs in as a role that is then dropped, as the undo
    # drops the tenant's role (Superset tests a connection before saving it).
    stale_role = f"ipai_dropped_{beta.code.replace('-', '_')}"
    with closing(pg_connect(beta.database)) as conn, conn.cursor() as cr:
        cr.execute(f'CREATE ROLE "{stale_role}" LOGIN')
        try:
            cr.execute(f'GRANT CONNECT ON DATABASE "{beta.database}" TO "{stale_role}"')
            cr.execute(f'GRANT USAGE ON SCHEMA "{beta.schema}" TO "{stale_role}"')
            cr.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{beta.schema}" TO "{stale_role}"')
            stale = f"postgresql+psycopg2://{stale_role}@127.0.0.1:5432/{beta.database}"
            api.put(f"/api/v1/database/{connection['id']}", {"sqlalchemy_uri": stale})
        finally:
            cr.execute(f'REVOKE ALL ON ALL TABLES IN SCHEMA "{beta.schema}" FROM "{stale_role}"')
            cr.execute(f'REVOKE ALL ON SCHEMA "{beta.schema}" FROM "{stale_role}"')
            cr.execute(f'REVOKE ALL ON DATABASE "{beta.database}" FROM "{stale_role}"')
            cr.execute(f'DROP ROLE "{stale_role}"')
    admin = {"Authorization": f"Bearer {superset.login('admin', superset.admin_password)}"}
    status, _rows = chart_rows(superset, beta, admin)
    assert status != 200
    # What a new tenant database looks like to the step: no BI password yet.
    with closing(pg_connect(beta.database)) as conn, conn.cursor() as cr:
        cr.execute("DELETE FROM ir_config_parameter WHERE key = 'ipai_bi_superset_embed.password'")
    printed = make_workspace(platform_db, beta, bi_server)
    assert f"new password for database connection ipai_{beta.code}" in printed
    status, rows = chart_rows(superset, beta, admin)
    assert status == 200, rows
    # The tenant's Odoo has the service account's new password too.
    token = guest_token(tenant_admins["beta"].session, bi_server, beta.dashboard_id)
    assert token.status_code == 200, token.text
    status, rows = chart_rows(superset, beta, {"X-GuestToken": token.json()["token"]})
    assert status == 200, rows
    assert {row["tenant_code"] for row in rows} == {beta.code}


def test_bad_input_to_the_workspace_cli_exits_2(platform_db, superset):
    result = run_workspace_cli(platform_db, "--code", "no-such-tenant")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")


# ------------------------------------------------------------ failure modes


def test_superset_down_answers_503_quickly_and_odoo_keeps_working(
    bi_tenants, bi_server, tenant_admins
):
    acme = bi_tenants["acme"]
    with _superset_unreachable(acme):
        _assert_503_within(5, "cannot be reached", acme, tenant_admins["acme"], bi_server)


def test_superset_slow_answers_503_within_seconds(bi_tenants, bi_server, tenant_admins):
    acme = bi_tenants["acme"]
    with _silent_server() as url, _settings(acme, superset_url=url):
        _assert_503_within(8, "too slow", acme, tenant_admins["acme"], bi_server)


def test_a_tenant_admin_cannot_send_the_service_login_elsewhere(
    bi_tenants, bi_server, tenant_admins
):
    """acme's administrator points the Superset URL at a listener of its own
    (set_param over JSON-RPC, as Settings would) to catch the service login
    the runtime sends: dashboards still come from the platform's Superset,
    and the listener hears nothing."""
    acme = bi_tenants["acme"]
    admin = tenant_admins["acme"]
    key = "ipai_bi_superset_embed.superset_url"
    original = acme.params()[key]
    listener = _silent_server()
    with listener as url:
        admin.call("ir.config_parameter", "set_param", key, url)
        try:
            response = guest_token(admin.session, bi_server, acme.dashboard_id)
            assert response.status_code == 200, response.text
            assert response.json()["token"]
            time.sleep(0.5)  # the listener accepts every 0.2 s
            assert listener.connections == []
        finally:
            admin.call("ir.config_parameter", "set_param", key, original)


def test_superset_refusing_the_account_answers_502(bi_tenants, bi_server, tenant_admins):
    acme = bi_tenants["acme"]
    admin = tenant_admins["acme"]
    user = admin
    url = acme.params()["ipai_bi_superset_embed.superset_url"]
    wrong = credentials.seal_for_database(acme.database, url=url, password="not-the-password")
    with _settings(acme, password=wrong):
        response = guest_token(user.session, bi_server, acme.dashboard_id)
        assert response.status_code == 502, response.text
        assert "refused the service account" in response.json()["error"]


# ------------------------------------------------------------------ helpers


def _assert_503_within(seconds, error, tenant, user, server):
    """The guest-token route answers 503 with ``error`` in under ``seconds``,
    and the rest of the tenant's Odoo keeps working for ``user``."""
    started = time.monotonic()
    response = guest_token(user.session, server, tenant.dashboard_id)
    elapsed = time.monotonic() - started
    assert response.status_code == 503, response.text
    assert error in response.json()["error"]
    assert elapsed < seconds
    assert user.call("res.partner", "search_count", []) > 0


def _ref(rpc, xmlid):
    module, name = xmlid.split(".")
    return rpc.call(
        "ir.model.data", "search_read", [("module", "=", module), ("name", "=", name)], ["res_id"]
    )[0]["res_id"]


def _user(admin, tenant, login, group_ids):
    password = f"{login}-Passw0rd!"
    existing = admin.call("res.users", "search", [("login", "=", login)])
    values = {
        "name": login,
        "login": login,
        "password": password,
        "groups_id": [(6, 0, [_ref(admin, "base.group_user"), *group_ids])],
    }
    if existing:
        admin.call("res.users", "write", existing, values)
    else:
        admin.call("res.users", "create", values)
    return JsonRpc(admin.url, tenant.database, login, password, host=admin.host)


def _visible_menus(rpc):
    response = rpc.session.get(f"{rpc.url}/web/webclient/load_menus/{time.time()}", timeout=30)
    response.raise_for_status()
    return {int(key) for key in response.json() if key.isdigit()}


class _settings:
    """Temporarily change the tenant's BI settings in its database, as the
    platform does (plain SQL plus Odoo's cache signal)."""

    def __init__(self, tenant, **values):
        self.tenant = tenant
        if "superset_url" in values and "password" not in values:
            # The runtime logs in where the password was sealed: moving
            # Superset, as the platform does, seals it with the new address.
            token = tenant.params()["ipai_bi_superset_embed.password"]
            login = credentials.open_for_database(tenant.database, token)
            values["password"] = credentials.seal_for_database(
                tenant.database, url=values["superset_url"], password=login["password"]
            )
        self.values = {f"ipai_bi_superset_embed.{key}": value for key, value in values.items()}

    def _write(self, values):
        with closing(pg_connect(self.tenant.database)) as conn, conn.cursor() as cr:
            for key, value in values.items():
                cr.execute("UPDATE ir_config_parameter SET value = %s WHERE key = %s", [value, key])
            cr.execute("SELECT nextval('base_cache_signaling_default')")

    def __enter__(self):
        self.saved = dict(
            query(
                self.tenant.database,
                "SELECT key, value FROM ir_config_parameter WHERE key = ANY(%s)",
                [list(self.values)],
            )
        )
        self._write(self.values)
        return self

    def __exit__(self, *exc):
        self._write(self.saved)


def _superset_unreachable(tenant):
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return _settings(tenant, superset_url=f"http://127.0.0.1:{port}")


class _silent_server:
    """A TCP server that accepts connections and never answers."""

    def __enter__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.connections = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _accept(self):
        self.listener.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                self.connections.append(self.listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(timeout=2)
        for conn in self.connections:
            conn.close()
        self.listener.close()


pytestmark = pytest.mark.usefixtures("workspaces")


def test_a_plan_without_embedded_bi_gets_no_guest_token(cli, tenant_server, credentials_dir):
    """The runtime reads the plan's BI flag from the platform's view; a tenant
    admin cannot switch it on from inside its database."""
    provision(cli, "bi-less")  # the trial plan has no embedded BI
    session = tenant_login(tenant_server, "bi-less", credentials_dir)
    session.call("ir.config_parameter", "set_param", "ipai_tenant.features", '{"bi": true}')
    response = session.session.get(
        f"{tenant_server.url}/ipai_bi/dashboard/1/guest_token", timeout=30
    )
    assert response.status_code == 403
    assert "does not include embedded BI" in response.json()["error"]
