"""The REST API over real HTTP against the running control plane: keys,
reach, idempotent create, imports, the tenant life cycle, problem details. Every
answer is checked against the OpenAPI document the server publishes; the
last test asserts that each documented route was seen answering."""

import io
import json
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest
from openapi_spec_validator import validate

from .support import (
    IMPORTED_PARTNER,
    REPO_ROOT,
    TENANT_DB_PREFIX,
    ApiClient,
    import_leftovers,
    make_user,
    mint_api_key,
    provider_manager,
    provider_tenant,
    provider_with_manager,
    provision,
    query,
    registered_server,
    run_script,
    server_of,
    wait_for_state,
)


@pytest.fixture(scope="module")
def admin_api(platform_server, admin_rpc, openapi):
    return ApiClient(platform_server.url, mint_api_key(admin_rpc, admin_rpc.uid), openapi)


@pytest.fixture(scope="module")
def anonymous(platform_server, openapi):
    return ApiClient(platform_server.url, None, openapi)


def tenant_snapshot(platform_db):
    return query(
        platform_db,
        "SELECT t.code, t.name, t.state, t.plan_id, (SELECT count(*) FROM ipai_tenant_job j "
        "WHERE j.tenant_id = t.id), (SELECT count(*) FROM ipai_tenant_domain d "
        "WHERE d.tenant_id = t.id) FROM ipai_tenant t ORDER BY t.code",
    )


def assert_problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert "Traceback" not in response.text
    return body


# ------------------------------------------------------------------ document


def test_openapi_document_is_valid_and_matches_the_routes(openapi):
    validate(openapi.document)  # OpenAPI 3.1 (openapi-spec-validator)
    assert openapi.document["openapi"] == "3.1.0"
    declared = set()
    for path in (REPO_ROOT / "addons/ipai_tenant_api/controllers").glob("*.py"):
        for route, methods in re.findall(
            r'@endpoint\("([^"]+)", (\[[^\]]*\]|None)', path.read_text()
        ):
            for method in re.findall(r'"(\w+)"', methods):
                declared.add((re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route), method.lower()))
    documented = {
        (route, method)
        for route, operations in openapi.document["paths"].items()
        for method in operations
    }
    # openapi.json itself is the document, not one of its operations.
    assert declared - {("/openapi.json", "get")} == documented


# ------------------------------------------------------------------- keys


def test_requests_without_a_valid_key_get_401(anonymous, platform_server, admin_rpc, platform_db):
    response = anonymous.get("/tenants")
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    for bad in ("nonsense", "ipai_000000000000_forged", "Basic abc"):
        forged = ApiClient(platform_server.url, bad, anonymous.check)
        assert_problem(forged.get("/tenants"), 401)

    key = mint_api_key(admin_rpc, admin_rpc.uid, "to revoke")
    client = ApiClient(platform_server.url, key, anonymous.check)
    assert client.get("/plans").status_code == 200
    [key_id] = admin_rpc.call("ipai.api.key", "search", [("key_index", "=", key[:17])])
    admin_rpc.call("ipai.api.key", "action_revoke", [key_id])
    assert_problem(client.get("/plans"), 401)

    key = mint_api_key(admin_rpc, admin_rpc.uid, "to expire")
    client = ApiClient(platform_server.url, key, anonymous.check)
    assert client.get("/plans").status_code == 200
    query(
        platform_db,
        "UPDATE ipai_api_key SET expires_at = now() at time zone 'utc' - interval '1 second' "
        "WHERE key_index = %s",
        [key[:17]],
    )
    assert_problem(client.get("/plans"), 401)


def test_a_key_is_stored_hashed_and_its_use_recorded(admin_api, platform_db):
    index = admin_api.key[:17]
    assert admin_api.get("/plans").status_code == 200
    [(stored_hash, last_used, address)] = query(
        platform_db,
        "SELECT key_hash, last_used_at, last_used_ip FROM ipai_api_key WHERE key_index = %s",
        [index],
    )
    assert admin_api.key not in stored_hash and len(stored_hash) == 64
    assert last_used is not None and address == "127.0.0.1"
    dump = query(platform_db, "SELECT row_to_json(k)::text FROM ipai_api_key k")
    assert not any(admin_api.key in row[0] for row in dump)


def test_only_administrators_and_platform_managers_make_keys(admin_rpc, platform_server):
    from .support import RpcError

    platform_id = admin_rpc.call("ipai.tenant", "search", [("code", "=", "platform")])[0]
    manager_id = make_user(admin_rpc, "api-key-manager", platform_id, "manager")
    from .support import JsonRpc

    manager = JsonRpc(
        platform_server.url, platform_server.dbname, "api-key-manager", "api-key-manager-pass"
    )
    with pytest.raises(RpcError, match="API keys are managed"):
        mint_api_key(manager, manager_id)
    assert admin_rpc.call("ipai.api.key", "search_count", [("user_id", "=", manager_id)]) == 0


# ------------------------------------------------------------------ reads


def test_plans_and_tenants_are_listed(admin_api):
    plans = admin_api.get("/plans").json()["items"]
    assert {"trial", "starter", "provider"} <= {plan["code"] for plan in plans}
    page = admin_api.get("/tenants?limit=2&offset=0").json()
    assert page["limit"] == 2 and len(page["items"]) <= 2 and page["total"] >= 3
    everything = admin_api.get("/tenants?limit=200").json()
    assert [t["code"] for t in everything["items"]] == sorted(
        t["code"] for t in everything["items"]
    )
    owners = admin_api.get("/tenants?type=platform_owner").json()["items"]
    assert [t["code"] for t in owners] == ["platform"]
    # Other tests' tenants may match too; each match must, and the owner is one.
    found = [t["code"] for t in admin_api.get("/tenants?q=platf").json()["items"]]
    assert "platform" in found and all("platf" in code for code in found)
    assert admin_api.get("/tenants/platform").json()["type"] == "platform_owner"
    assert_problem(admin_api.get("/tenants?state=sleeping"), 400)
    assert_problem(admin_api.get("/tenants?limit=0"), 400)


# ----------------------------------------------------- create and follow


@pytest.fixture(scope="module")
def created(admin_api, platform_db):
    """A tenant created through the API with an Idempotency-Key, then the
    same request retried."""
    body = {"code": "api-acme", "name": "API Acme", "plan": "starter", "admin_email": "a@acme.test"}
    headers = {"Idempotency-Key": "create-api-acme-1"}
    first = admin_api.post("/tenants", json=body, headers=headers)
    assert first.status_code == 202, first.text
    retried = admin_api.post("/tenants", json=body, headers=headers)
    return first, retried


def test_create_answers_202_with_the_job_to_follow(created, admin_api, platform_db):
    first, _retried = created
    body = first.json()
    assert body["tenant"]["code"] == "api-acme"
    assert first.headers["Location"] == body["job"]["links"]["self"]
    job = admin_api.wait_job(body["job"]["id"])
    assert job["state"] == "done", job["error"]
    assert job["steps"] and all(step["state"] == "done" for step in job["steps"])
    tenant = admin_api.get("/tenants/api-acme").json()
    assert tenant["state"] == "active" and tenant["plan"] == "starter"


def test_a_retried_create_returns_the_first_result(created, admin_api, platform_db):
    first, retried = created
    assert retried.status_code == 202
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json() == first.json()
    assert query(platform_db, "SELECT count(*) FROM ipai_tenant WHERE code = 'api-acme'") == [(1,)]
    [(jobs,)] = query(
        platform_db,
        "SELECT count(*) FROM ipai_tenant_job j JOIN ipai_tenant t ON t.id = j.tenant_id "
        "WHERE t.code = 'api-acme' AND j.job_type = 'create'",
    )
    assert jobs == 1
    # The same key for another request is refused, and makes nothing.
    other = admin_api.post(
        "/tenants", json={"code": "api-other"}, headers={"Idempotency-Key": "create-api-acme-1"}
    )
    assert_problem(other, 422)
    assert query(platform_db, "SELECT count(*) FROM ipai_tenant WHERE code = 'api-other'") == [(0,)]


def test_concurrent_retries_of_a_create_make_one_tenant(admin_api, platform_db):
    body = {"code": "api-race", "admin_email": "r@race.test"}
    headers = {"Idempotency-Key": "race-1"}
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(
            pool.map(lambda _i: admin_api.post("/tenants", json=body, headers=headers), range(4))
        )
    assert [a.status_code for a in answers] == [202] * 4, [a.text for a in answers]
    assert all(a.json() == answers[0].json() for a in answers)
    assert query(platform_db, "SELECT count(*) FROM ipai_tenant WHERE code = 'api-race'") == [(1,)]
    # Its one job ends here: the next test compares states before and after.
    assert admin_api.wait_job(answers[0].json()["job"]["id"])["state"] == "done"


def test_bad_requests_get_problem_details_and_change_nothing(admin_api, platform_db, created):
    before = tenant_snapshot(platform_db)
    raw = admin_api.request(
        "POST", "/tenants", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert_problem(raw, 400)
    assert_problem(admin_api.post("/tenants", json={"code": "x-y", "colour": "red"}), 400)
    assert_problem(admin_api.post("/tenants", json={"code": 42}), 400)
    assert_problem(admin_api.post("/tenants", json={"name": "no code"}), 422)
    assert assert_problem(admin_api.post("/tenants", json={"code": "Bad_Code"}), 422)["field"] == (
        "code"
    )
    assert_problem(admin_api.post("/tenants", json={"code": "api-acme"}), 409)
    assert_problem(admin_api.post("/tenants", json={"code": "api-x", "plan": "gold"}), 422)
    assert_problem(
        admin_api.post("/tenants", json={"code": "api-x", "admin_email": "not an address"}), 422
    )
    assert_problem(admin_api.get("/tenants/no-such-tenant"), 404)
    assert_problem(admin_api.get("/jobs/999999999"), 404)
    assert_problem(admin_api.get("/no/such/route"), 404)
    assert_problem(admin_api.patch("/tenants/api-acme", json={}), 400)
    assert_problem(admin_api.post("/tenants/api-acme/reactivate"), 409)  # it is active
    assert tenant_snapshot(platform_db) == before


# ------------------------------------------------------------ life cycle


def test_change_suspend_reactivate_clone_archive_drop(created, admin_api, platform_db):
    wait_for_state(platform_db, "api-acme", "active", timeout=300)
    renamed = admin_api.patch("/tenants/api-acme", json={"name": "API Acme Ltd"})
    assert renamed.status_code == 200 and renamed.json()["job"] is None
    assert renamed.json()["tenant"]["name"] == "API Acme Ltd"

    moved = admin_api.patch("/tenants/api-acme", json={"plan": "professional"})
    assert moved.status_code == 202, moved.text
    assert admin_api.wait_job(moved.json()["job"]["id"])["state"] == "done"
    assert admin_api.get("/tenants/api-acme").json()["plan"] == "professional"

    domains = admin_api.patch("/tenants/api-acme", json={"domains": ["ERP.Acme-API.test"]})
    assert domains.status_code == 200, domains.text
    [domain] = domains.json()["tenant"]["domains"]
    assert domain["name"] == "erp.acme-api.test" and not domain["verified"]
    assert "TXT" in domain["verification_record"]
    cleared = admin_api.patch("/tenants/api-acme", json={"domains": []})
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["tenant"]["domains"] == []

    for action, state in (("suspend", "suspended"), ("reactivate", "active")):
        response = admin_api.post(f"/tenants/api-acme/{action}")
        assert response.status_code == 202, response.text
        assert admin_api.wait_job(response.json()["job"]["id"])["state"] == "done"
        wait_for_state(platform_db, "api-acme", state)

    clone = admin_api.post("/tenants/api-acme/clone", json={"code": "api-acme-copy"})
    assert clone.status_code == 202, clone.text
    assert clone.json()["tenant"]["code"] == "api-acme-copy"
    assert admin_api.wait_job(clone.json()["job"]["id"])["state"] == "done"
    assert_problem(admin_api.post("/tenants/api-acme/clone", json={"code": "api-acme-copy"}), 409)

    archived = admin_api.post("/tenants/api-acme-copy/archive")
    assert archived.status_code == 202
    assert admin_api.wait_job(archived.json()["job"]["id"])["state"] == "done"
    wait_for_state(platform_db, "api-acme-copy", "archived")

    dropped = admin_api.post("/tenants/api-acme/drop")
    assert dropped.status_code == 202
    assert admin_api.wait_job(dropped.json()["job"]["id"])["state"] == "done"
    wait_for_state(platform_db, "api-acme", "archived")


# ------------------------------------------------------------------ reach


def test_a_provider_key_reaches_its_subtree_only(admin_rpc, platform_server, platform_db, openapi):
    ids = {code: provider_tenant(admin_rpc, code, code) for code in ("api-prov-a", "api-prov-b")}
    for code, parent in (("api-cli-a", "api-prov-a"), ("api-cli-b", "api-prov-b")):
        ids[code] = admin_rpc.call(
            "ipai.tenant", "create", {"code": code, "name": code, "parent_id": ids[parent]}
        )
    manager = provider_manager(admin_rpc, platform_server, ids["api-prov-a"], "api-prov-a-admin")
    api = ApiClient(platform_server.url, mint_api_key(manager, manager.uid), openapi)

    codes = {t["code"] for t in api.get("/tenants?limit=200").json()["items"]}
    assert codes == {"api-prov-a", "api-cli-a"}
    before = tenant_snapshot(platform_db)
    assert_problem(api.get("/tenants/api-cli-b"), 404)
    assert_problem(api.patch("/tenants/api-cli-b", json={"name": "hacked"}), 404)
    for action in ("suspend", "reactivate", "archive", "drop"):
        assert_problem(api.post(f"/tenants/api-cli-b/{action}"), 404)
    assert_problem(api.post("/tenants/api-cli-b/clone", json={"code": "api-stolen"}), 404)
    assert_problem(api.post("/tenants", json={"code": "api-intruder", "parent": "api-prov-b"}), 422)
    [(foreign_job,)] = query(
        platform_db,
        "SELECT max(j.id) FROM ipai_tenant_job j JOIN ipai_tenant t ON t.id = j.tenant_id "
        "WHERE t.code NOT IN ('api-prov-a', 'api-cli-a')",
    )
    if foreign_job:
        assert_problem(api.get(f"/jobs/{foreign_job}"), 404)
    assert tenant_snapshot(platform_db) == before

    # Its own subtree: a sub-tenant under its provider, by default.
    own = api.post("/tenants", json={"code": "api-cli-a2", "admin_email": "x@a2.test"})
    assert own.status_code == 202, own.text
    assert own.json()["tenant"]["parent"] == "api-prov-a"
    assert api.wait_job(own.json()["job"]["id"])["state"] == "done"


def test_a_platform_manager_moves_a_tenant_to_another_server(
    admin_api, admin_rpc, platform_server, cluster, cli, platform_db, openapi
):
    with registered_server(platform_db, "api-target", cluster["port"], open_to_new=False):
        provision(cli, "api-mover")
        provider = provider_tenant(admin_rpc, "api-mv-prov", "API Mover Provider")
        manager = provider_manager(admin_rpc, platform_server, provider, "api-mv-prov-admin")
        own = ApiClient(platform_server.url, mint_api_key(manager, manager.uid), openapi)
        before = tenant_snapshot(platform_db)
        body = assert_problem(
            admin_api.post("/tenants/api-mover/move", json={"server": "nowhere"}), 422
        )
        assert "nowhere" in body["detail"]
        assert_problem(admin_api.post("/tenants/api-mover/move", json={}), 422)
        assert_problem(
            admin_api.post("/tenants/api-mover/move", json={"server": "x", "grace_hours": -1}), 422
        )
        # A provider's administrator moves nothing, not even its own tenants.
        assert_problem(own.post("/tenants/api-mv-prov/move", json={"server": "api-target"}), 403)
        assert tenant_snapshot(platform_db) == before

        moved = admin_api.post(
            "/tenants/api-mover/move", json={"server": "api-target", "grace_hours": 0}
        )
        assert moved.status_code == 202, moved.text
        assert moved.json()["job"]["type"] == "move_server"
        assert admin_api.wait_job(moved.json()["job"]["id"])["state"] == "done"
        assert server_of(platform_db, "api-mover") == "api-target"
        # Its cluster goes with this module: the tenant goes first.
        dropped = admin_api.post("/tenants/api-mover/drop")
        assert admin_api.wait_job(dropped.json()["job"]["id"])["state"] == "done"


def test_a_key_made_in_the_form_is_shown_once_and_works(admin_rpc, platform_server, openapi):
    platform_id = admin_rpc.call("ipai.tenant", "search", [("code", "=", "platform")])[0]
    make_user(admin_rpc, "api-form-admin", platform_id, "admin")
    from .support import JsonRpc

    rpc = JsonRpc(
        platform_server.url, platform_server.dbname, "api-form-admin", "api-form-admin-pass"
    )
    wizard = rpc.call("ipai.api.key.generate", "create", {"name": "from the form"})
    action = rpc.call("ipai.api.key.generate", "action_generate", [wizard])
    key = re.search(r"ipai_[0-9a-f]{12}_\S+", action["params"]["message"]).group(0)
    assert ApiClient(platform_server.url, key, openapi).get("/tenants/platform").status_code == 200
    [listed] = rpc.call(
        "ipai.api.key",
        "search_read",
        [("name", "=", "from the form")],
        ["key_index", "state", "last_used_at"],
    )
    assert key.startswith(listed["key_index"]) and listed["state"] == "active"
    assert listed["last_used_at"]


def test_the_command_line_prints_a_working_key_once(platform_server, platform_db, openapi):
    def api_key(*args):
        return run_script("api_key.py", platform_db, *args, timeout=300)

    made = api_key("--login", "admin", "--name", "cli key", "--days", "7")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    assert ApiClient(platform_server.url, key, openapi).get("/plans").status_code == 200
    [(expires,)] = query(
        platform_db,
        "SELECT expires_at::date - now()::date FROM ipai_api_key WHERE key_index = %s",
        [key[:17]],
    )
    assert expires == 7
    refused = api_key("--login", "nobody-here")
    assert refused.returncode == 2 and refused.stderr.startswith("error: ")


# ------------------------------------------------------------ import


def test_a_provider_imports_its_customer_through_the_api(
    odoo_backup, admin_rpc, platform_server, openapi, platform_db
):
    """An integration brings a customer's Odoo database in under its
    provider; nobody reaches the route without a key, nor another
    provider's subtree, and a refused file leaves nothing."""
    _provider_id, rpc = provider_with_manager(
        admin_rpc, platform_server, "importers", "Importers", "importer-admin"
    )
    provider_tenant(admin_rpc, "others", "Other provider")
    provider_api = ApiClient(platform_server.url, mint_api_key(rpc, rpc.uid), openapi)
    zip_bytes = odoo_backup.read_bytes()
    headers = {"Content-Type": "application/zip"}
    # Nobody without a key, and no provider into another's subtree.
    anonymous = ApiClient(platform_server.url, None, openapi)
    refused = anonymous.post(
        "/tenants/import", data=zip_bytes, headers=headers, params={"code": "api-anon"}
    )
    assert refused.status_code == 401
    foreign = provider_api.post(
        "/tenants/import",
        data=zip_bytes,
        headers=headers,
        params={"code": "api-foreign", "parent": "others"},
    )
    assert foreign.status_code in (403, 404, 422), foreign.text
    bad = provider_api.post(
        "/tenants/import", data=b"not a zip", headers=headers, params={"code": "api-bad"}
    )
    assert bad.status_code == 422 and "Nothing was created" in bad.json()["detail"]
    for code in ("api-anon", "api-foreign", "api-bad"):
        assert import_leftovers(platform_db, code) == []
    answer = provider_api.post(
        "/tenants/import",
        data=zip_bytes,
        headers=headers,
        params={"code": "api-imported", "admin_email": "owner@api-imported.example"},
    )
    assert answer.status_code == 202, answer.text
    job = provider_api.wait_job(answer.json()["job"]["id"])
    assert job["state"] == "done", job
    tenant = provider_api.get("/tenants/api-imported").json()
    assert tenant["state"] == "active" and tenant["parent"] == "importers"
    assert query(
        TENANT_DB_PREFIX + "api-imported",
        "SELECT count(*) FROM res_partner WHERE name = %s",
        [IMPORTED_PARTNER],
    ) == [(1,)]
    # Its data goes out again the same way: a backup, its export as Odoo's
    # zip (a job), the download; nobody else's key reaches any of it.
    taken = provider_api.post("/tenants/api-imported/backups")
    assert taken.status_code == 202, taken.text
    assert provider_api.wait_job(taken.json()["job"]["id"])["state"] == "done"
    [backup] = provider_api.get("/tenants/api-imported/backups").json()["items"]
    assert backup["kind"] == "manual" and backup["exported"] is False
    export = f"/tenants/api-imported/backups/{backup['id']}/export"
    assert provider_api.get(export).status_code == 409
    queued = provider_api.post(export)
    assert queued.status_code == 202, queued.text
    assert provider_api.wait_job(queued.json()["job"]["id"])["state"] == "done"
    assert provider_api.post(export).status_code == 200  # written once
    _other_id, other_rpc = provider_with_manager(
        admin_rpc, platform_server, "strangers", "Strangers", "stranger-admin"
    )
    stranger = ApiClient(platform_server.url, mint_api_key(other_rpc, other_rpc.uid), openapi)
    for client, status in ((anonymous, 401), (stranger, 404)):
        assert client.get(export).status_code == status
        assert client.post(export).status_code == status
        assert client.get("/tenants/api-imported/backups").status_code == status
    download = provider_api.get(export)
    assert download.status_code == 200
    assert download.headers["Content-Type"].startswith("application/zip")
    assert "attachment" in download.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert json.loads(archive.read("manifest.json"))["major_version"] == "18.0"
        assert IMPORTED_PARTNER.encode() in archive.read("dump.sql")
    audit = query(
        platform_db,
        "SELECT action FROM ipai_audit_log WHERE tenant_code = 'api-imported' ORDER BY id",
    )
    assert ("backup:export",) in audit and ("backup:download",) in audit


# --------------------------------------------------------------- coverage


def test_every_documented_route_answered_as_documented(openapi):
    """Runs last in this module: every documented operation was seen giving
    its success answer, and each answer seen matched its schema."""
    for route, operations in openapi.document["paths"].items():
        for method, operation in operations.items():
            success = {s for s in operation["responses"] if s.startswith("2")}
            seen = {status for r, m, status in openapi.seen if (r, m) == (route, method)}
            assert seen & success, f"{method.upper()} {route}: no success answer seen ({seen})"
