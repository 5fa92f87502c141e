"""API keys within the plan, and the plan's flags where they matter.

A provider's administrator makes API keys for itself and its team; the key's
validity and rate limit are capped by the plan (platform managers are not),
whatever the path or the context. A tenant whose plan lacks "API access"
gets 403 from every API route; "Provider pays" (white label) is refused
under a provider whose plan lacks it. (Embedded BI without the plan flag:
tests/superset/test_guest_tokens.py and tests/security/test_tenant_isolation.py.)"""

import pytest

from ..support import ApiClient, RpcError, make_user, mint_api_key, provider_manager, query

YEARS_7000 = 7000 * 365


def keys(platform_db, user_id):
    return query(
        platform_db,
        "SELECT key_index, expires_at, rate_limit FROM ipai_api_key WHERE user_id = %s ORDER BY id",
        [user_id],
    )


def plan(admin_rpc, code, **values):
    """A provider's plan ``code`` (API access, white label and sub-tenants
    unless ``values`` say otherwise)."""
    features = {"feature_api": True, "feature_white_label": True, "feature_sub_tenants": True}
    return admin_rpc.call(
        "ipai.tenant.plan", "create", {"code": code, "name": code, **features, **values}
    )


def provider_on(admin_rpc, plan_id, code):
    platform_id = admin_rpc.call("ipai.tenant", "search", [("code", "=", "platform")])[0]
    return admin_rpc.call(
        "ipai.tenant",
        "create",
        {
            "code": code,
            "name": code.upper(),
            "tenant_type": "provider",
            "parent_id": platform_id,
            "plan_id": plan_id,
        },
    )


@pytest.fixture(scope="module")
def capped(admin_rpc, platform_server):
    """pf-prov on a plan allowing keys of 30 days and 100 requests a minute,
    its administrator (logged in) and a member of its team."""
    plan_id = plan(admin_rpc, "pf-capped", api_key_max_days=30, api_rate_limit=100)
    provider_id = provider_on(admin_rpc, plan_id, "pf-prov")
    admin = provider_manager(admin_rpc, platform_server, provider_id, "pf-admin", role="admin")
    member = make_user(admin_rpc, "pf-member", provider_id, "member")
    return admin, member


@pytest.mark.parametrize(
    "options",
    [
        {"days": YEARS_7000},
        {"days": 31},
        {"days": 0},  # never expires
        {"rate_limit": 1_000_000},
        {"rate_limit": 101},
    ],
    ids=lambda options: "-".join(f"{k}={v}" for k, v in options.items()),
)
def test_an_administrator_cannot_mint_keys_beyond_the_plan(capped, platform_db, options):
    admin, member = capped
    crafted = {
        "default_expires_at": False,
        "default_rate_limit": 10**9,
        "default_days": YEARS_7000,
        "default_user_id": member,
    }
    for user_id in (admin.uid, member):
        before = keys(platform_db, user_id)
        with pytest.raises(RpcError, match=r"(?i)at most|never expire"):
            mint_api_key(admin, user_id, "probe", context=crafted, **options)
        with pytest.raises(RpcError, match=r"(?i)at most|never expire"):
            wizard = admin.call(
                "ipai.api.key.generate",
                "create",
                {"name": "probe", "user_id": user_id, **options},
                context=crafted,
            )
            admin.call("ipai.api.key.generate", "action_generate", [wizard], context=crafted)
        assert keys(platform_db, user_id) == before


def test_keys_cannot_be_written_or_created_behind_the_method(capped, platform_db):
    admin, member = capped
    mint_api_key(admin, member, "fine", days=30, rate_limit=100)
    [(index, expires, rate)] = keys(platform_db, member)
    [key_id] = admin.call("ipai.api.key", "search", [("key_index", "=", index)])
    with pytest.raises(RpcError, match=r"(?i)not allowed|access"):
        admin.call("ipai.api.key", "write", [key_id], {"expires_at": False, "rate_limit": 0})
    with pytest.raises(RpcError, match=r"(?i)not allowed|access"):
        admin.call(
            "ipai.api.key",
            "create",
            {"name": "x", "user_id": member, "key_index": "ipai_000000000000", "key_hash": "0"},
            context={"default_expires_at": False},
        )
    assert keys(platform_db, member) == [(index, expires, rate)]


def test_a_key_defaults_to_the_plans_validity(capped, platform_db):
    admin, _member = capped
    mint_api_key(admin, admin.uid, "default")
    [(days,)] = query(
        platform_db,
        "SELECT round(extract(epoch FROM expires_at - create_date) / 86400) FROM ipai_api_key "
        "WHERE user_id = %s AND name = 'default'",
        [admin.uid],
    )
    assert days == 30


def test_platform_managers_are_not_capped(capped, admin_rpc, platform_db):
    _admin, member = capped
    mint_api_key(admin_rpc, member, "platform-made", days=0, rate_limit=5000)
    assert query(
        platform_db,
        "SELECT expires_at, rate_limit FROM ipai_api_key WHERE name = 'platform-made'",
    ) == [(None, 5000)]


@pytest.fixture(scope="module")
def without_api(admin_rpc, platform_server):
    """pf-noapi, a provider on a plan without API access nor white label,
    with a sub-tenant; its administrator, and a key a platform manager made
    for it."""
    plan_id = plan(admin_rpc, "pf-noapi", feature_api=False, feature_white_label=False)
    provider_id = provider_on(admin_rpc, plan_id, "pf-noapi")
    sub = admin_rpc.call(
        "ipai.tenant", "create", {"code": "pf-noapi-sub", "name": "Sub", "parent_id": provider_id}
    )
    admin = provider_manager(admin_rpc, platform_server, provider_id, "pf-noapi-admin")
    key = mint_api_key(admin_rpc, admin.uid, "from the platform")
    return admin, key, provider_id, sub


def test_no_api_access_without_the_plan_flag(without_api, platform_server, platform_db, openapi):
    admin, key, _provider, _sub = without_api
    before = keys(platform_db, admin.uid)
    with pytest.raises(RpcError, match="does not include API access"):
        mint_api_key(admin, admin.uid, "mine")
    assert keys(platform_db, admin.uid) == before
    api = ApiClient(platform_server.url, key, openapi)
    tenants = query(platform_db, "SELECT count(*) FROM ipai_tenant")
    for method, path, body in (
        ("GET", "/tenants", None),
        ("GET", "/tenants/pf-noapi", None),
        ("POST", "/tenants", {"code": "pf-noapi-new"}),
        ("GET", "/plans", None),
    ):
        response = api.request(method, path, json=body)
        assert response.status_code == 403, response.text
        assert "does not include API access" in response.json()["detail"]
    assert query(platform_db, "SELECT count(*) FROM ipai_tenant") == tenants


def test_provider_pays_needs_white_label(without_api, admin_rpc, platform_db):
    _admin, _key, provider, sub = without_api
    # Even a platform manager cannot store it under this provider ...
    with pytest.raises(RpcError, match="does not include white label"):
        admin_rpc.call("ipai.tenant", "write", [sub], {"bill_to_provider": True})
    assert query(platform_db, "SELECT bill_to_provider FROM ipai_tenant WHERE id = %s", [sub]) in (
        [(None,)],
        [(False,)],
    )
    # ... nor take white label away from a provider that pays for a sub-tenant.
    white = admin_rpc.call("ipai.tenant.plan", "search", [("code", "=", "provider")])[0]
    admin_rpc.call("ipai.tenant", "write", [provider], {"plan_id": white})
    admin_rpc.call("ipai.tenant", "write", [sub], {"bill_to_provider": True})
    noapi = admin_rpc.call("ipai.tenant.plan", "search", [("code", "=", "pf-noapi")])[0]
    with pytest.raises(RpcError, match="must include white label"):
        admin_rpc.call("ipai.tenant", "write", [provider], {"plan_id": noapi})
    assert query(platform_db, "SELECT plan_id FROM ipai_tenant WHERE id = %s", [provider]) == [
        (white,)
    ]
