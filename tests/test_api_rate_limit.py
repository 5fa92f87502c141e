"""The per-key rate limit holds across processes: two control-plane
servers (each with two workers) on one platform database share the count
kept in PostgreSQL."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from .support import ApiClient, control_plane, make_user, mint_api_key, query

LIMIT = 12


@pytest.fixture(scope="module")
def second_server(platform_db, platform_server):
    server = control_plane(platform_db, "-second")
    yield server
    server.stop()


def wait_for_fresh_window(margin=20):
    """Start a burst early in a minute, so it falls in one counting window."""
    deadline = time.monotonic() + 61
    while 60 - time.time() % 60 < margin:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_limit_holds_across_two_servers(admin_rpc, platform_server, second_server, platform_db):
    key = mint_api_key(admin_rpc, admin_rpc.uid, "burst", rate_limit=LIMIT)
    clients = [ApiClient(server.url, key) for server in (platform_server, second_server)]
    wait_for_fresh_window()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda i: clients[i % 2].get("/plans"), range(3 * LIMIT)))
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(200) == LIMIT, statuses
    assert statuses.count(429) == 2 * LIMIT, statuses
    refused = [answer for answer in answers if answer.status_code == 429]
    for answer in refused:
        assert answer.headers["Content-Type"].startswith("application/problem+json")
        assert 1 <= int(answer.headers["Retry-After"]) <= 60
        assert answer.headers["RateLimit-Limit"] == str(LIMIT)
    # Both servers answered, and refused, within the same count.
    assert {a.url.split("/api")[0] for a in refused} == {platform_server.url, second_server.url}
    [(hits,)] = query(
        platform_db,
        "SELECT sum(hits) FROM ipai_api_rate_window w JOIN ipai_api_key k ON k.id = w.key_id "
        "WHERE k.key_index = %s",
        [key[:17]],
    )
    assert hits == 3 * LIMIT


def test_the_limit_comes_from_the_plan_of_the_users_tenant(admin_rpc, platform_server):
    starter = admin_rpc.call(
        "ipai.tenant.plan", "search_read", [("code", "=", "starter")], ["api_rate_limit"]
    )[0]
    tenant_id = admin_rpc.call(
        "ipai.tenant", "create", {"code": "rate-plan", "name": "Rate", "plan_id": starter["id"]}
    )
    user_id = make_user(admin_rpc, "rate-plan-viewer", tenant_id, "viewer")
    client = ApiClient(platform_server.url, mint_api_key(admin_rpc, user_id))
    response = client.get("/tenants/rate-plan")
    assert response.status_code == 200, response.text
    assert response.headers["RateLimit-Limit"] == str(starter["api_rate_limit"])
