"""Role x action matrix: real users with each role on a provider tenant,
acting through their API keys (and JSON-RPC for the team), against the
running platform. A refused action answers 403 and changes nothing; an
allowed one gets past the role check (its answer may still be a 409 when
the tenant's state does not allow it, which proves the role was enough)."""

import pytest

from ..support import (
    ApiClient,
    JsonRpc,
    RpcError,
    make_user,
    mint_api_key,
    provider_tenant,
    query,
    wait_for_state,
)

ROLES = ["viewer", "member", "manager", "admin", "owner"]


def snapshot(platform_db):
    return query(
        platform_db,
        "SELECT (SELECT array_agg(row(code, name, state, plan_id, parent_id)::text ORDER BY id) "
        "FROM ipai_tenant), (SELECT array_agg(row(id, state)::text ORDER BY id) "
        "FROM ipai_tenant_job), (SELECT array_agg(row(user_id, tenant_id, role)::text "
        "ORDER BY id) FROM ipai_tenant_assignment), (SELECT count(*) FROM ipai_api_key)",
    )


@pytest.fixture(scope="module")
def team(admin_rpc, platform_server, openapi):
    """rm-prov (a provider) with rm-live (active) and rm-draft under it, and
    one user per role on rm-prov, each with an API key and an RPC session."""
    provider = provider_tenant(admin_rpc, "rm-prov", "RM")
    admin_api = ApiClient(platform_server.url, mint_api_key(admin_rpc, admin_rpc.uid), openapi)
    live = admin_api.post(
        "/tenants", json={"code": "rm-live", "parent": "rm-prov", "admin_email": "a@rm.test"}
    ).json()
    admin_api.post("/tenants", json={"code": "rm-draft-seed", "parent": "rm-prov"})
    admin_rpc.call(
        "ipai.tenant", "create", {"code": "rm-draft", "name": "Draft", "parent_id": provider}
    )
    people = {}
    for role in ROLES:
        login = f"rm-{role}"
        user_id = make_user(admin_rpc, login, provider, role)
        people[role] = {
            "id": user_id,
            "api": ApiClient(platform_server.url, mint_api_key(admin_rpc, user_id), openapi),
            "rpc": JsonRpc(platform_server.url, platform_server.dbname, login, f"{login}-pass"),
        }
    admin_api.wait_job(live["job"]["id"])
    return {"provider": provider, "people": people, "live_job": live["job"]["id"]}


def at_least(role):
    return ROLES[ROLES.index(role) :]


def refused(response, platform_db, before):
    assert response.status_code == 403, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert snapshot(platform_db) == before


def test_every_role_reads_the_subtree(team):
    for role in ROLES:
        api = team["people"][role]["api"]
        assert api.get("/tenants/rm-live").json()["state"] == "active"
        codes = {t["code"] for t in api.get("/tenants?parent=rm-prov").json()["items"]}
        assert {"rm-live", "rm-draft"} <= codes


def test_jobs_are_seen_from_member_up(team):
    for role in ROLES:
        response = team["people"][role]["api"].get(f"/jobs/{team['live_job']}")
        assert response.status_code == (200 if role in at_least("member") else 404), role


@pytest.mark.parametrize(
    ("action", "weakest"),
    [("suspend", "manager"), ("reactivate", "manager"), ("drop", "owner")],
)
def test_lifecycle_actions_need_their_role(team, platform_db, action, weakest):
    """On the draft tenant, an allowed role gets past the role check and is
    stopped by the state (409); a weaker one is refused (403)."""
    for role in ROLES:
        before = snapshot(platform_db)
        response = team["people"][role]["api"].post(f"/tenants/rm-draft/{action}")
        if role in at_least(weakest):
            assert response.status_code == 409, (role, response.text)
        else:
            refused(response, platform_db, before)


def test_clone_needs_manager(team, platform_db):
    for role in ROLES:
        before = snapshot(platform_db)
        response = team["people"][role]["api"].post(
            "/tenants/rm-draft/clone", json={"code": f"rm-clone-{role}"}
        )
        if role in at_least("manager"):
            assert response.status_code == 409, (role, response.text)  # a draft: no clone
        else:
            refused(response, platform_db, before)


def test_editing_and_changing_plan_need_manager(team, platform_db):
    for role in ROLES:
        before = snapshot(platform_db)
        api = team["people"][role]["api"]
        renamed = api.patch("/tenants/rm-draft", json={"name": f"Renamed by {role}"})
        plan = "starter" if ROLES.index(role) % 2 else "professional"
        moved = api.patch("/tenants/rm-draft", json={"plan": plan})
        if role in at_least("manager"):
            assert renamed.status_code == 200 and moved.status_code == 200, (role, moved.text)
        else:
            refused(renamed, platform_db, before)
            refused(moved, platform_db, before)


def test_sub_tenants_need_admin(team, platform_db):
    for role in ROLES:
        before = snapshot(platform_db)
        # A bad e-mail stops an allowed create after the role check (422).
        response = team["people"][role]["api"].post(
            "/tenants", json={"code": f"rm-sub-{role}", "parent": "rm-prov", "admin_email": "bad"}
        )
        if role in at_least("admin"):
            assert response.status_code == 422, (role, response.text)
        else:
            refused(response, platform_db, before)
        assert snapshot(platform_db) == before


def test_archive_needs_owner(team, admin_rpc, platform_db):
    admin_rpc.call(
        "ipai.tenant", "create", {"code": "rm-old", "name": "Old", "parent_id": team["provider"]}
    )
    for role in ROLES[:-1]:
        before = snapshot(platform_db)
        refused(team["people"][role]["api"].post("/tenants/rm-old/archive"), platform_db, before)
    response = team["people"]["owner"]["api"].post("/tenants/rm-old/archive")
    assert response.status_code == 200, response.text  # a draft is archived without a job
    wait_for_state(platform_db, "rm-old", "archived")


def test_team_and_keys_need_admin_and_ownership_needs_owner(team, admin_rpc, platform_db):
    provider = team["provider"]
    # On the team already (a viewer of one of its clients): only team
    # members are given roles by the team's administrators.
    [client] = admin_rpc.call("ipai.tenant", "search", [("code", "=", "rm-draft")])
    newcomer = make_user(admin_rpc, "rm-newcomer", client, "viewer")
    for role in ("viewer", "member", "manager"):
        rpc = team["people"][role]["rpc"]
        before = snapshot(platform_db)
        with pytest.raises(RpcError):
            rpc.call(
                "ipai.tenant.assignment",
                "create",
                {"user_id": newcomer, "tenant_id": provider, "role": "viewer"},
            )
        with pytest.raises(RpcError, match="API keys are managed"):
            mint_api_key(rpc, team["people"]["viewer"]["id"])
        assert snapshot(platform_db) == before
    admin = team["people"]["admin"]["rpc"]
    assignment = admin.call(
        "ipai.tenant.assignment",
        "create",
        {"user_id": newcomer, "tenant_id": provider, "role": "viewer"},
    )
    assert mint_api_key(admin, team["people"]["viewer"]["id"]).startswith("ipai_")
    before = snapshot(platform_db)
    with pytest.raises(RpcError):  # only an owner hands out ownership
        admin.call("ipai.tenant.assignment", "write", [assignment], {"role": "owner"})
    with pytest.raises(RpcError):  # nobody raises their own role
        admin.call(
            "ipai.tenant.assignment",
            "write",
            admin.call(
                "ipai.tenant.assignment",
                "search",
                [("user_id", "=", team["people"]["admin"]["id"])],
            ),
            {"role": "owner"},
        )
    assert snapshot(platform_db) == before
    # The owner transfers: the newcomer becomes an owner.
    team["people"]["owner"]["rpc"].call(
        "ipai.tenant.assignment", "write", [assignment], {"role": "owner"}
    )
    [(role,)] = query(
        platform_db, "SELECT role FROM ipai_tenant_assignment WHERE id = %s", [assignment]
    )
    assert role == "owner"


def test_an_administrator_cannot_mint_a_key_that_acts_beyond_its_own_rights(
    team, admin_rpc, platform_db
):
    """A key acts as its user: an administrator may make keys for its team
    only when that gives it nothing it does not have already."""
    admin = team["people"]["admin"]["rpc"]
    elsewhere = provider_tenant(admin_rpc, "rm-elsewhere", "Elsewhere")
    # A viewer here who owns another provider.
    double = make_user(admin_rpc, "rm-double", team["provider"], "viewer")
    admin_rpc.call(
        "ipai.tenant.assignment",
        "create",
        {"user_id": double, "tenant_id": elsewhere, "role": "owner"},
    )
    before = snapshot(platform_db)
    for victim in (team["people"]["owner"]["id"], double, admin_rpc.uid):
        with pytest.raises(RpcError, match="API keys are managed"):
            mint_api_key(admin, victim)
    assert snapshot(platform_db) == before
