"""Attacks through what Odoo fills in after the checks on a request: context
``default_*`` keys, empty ``create({})`` calls, rows two tenants could share.

Made as a provider's staff over plain JSON-RPC against the running platform,
with the contexts an attacker would send. Each test reads the stored state
back: whatever the request carried, no tenant holds another's database, a
billing term, a verified domain or a role it was not given."""

import json
from contextlib import closing

import psycopg2
import pytest

from ..conftest import TENANT_DB_PREFIX
from ..support import (
    RpcError,
    make_user,
    pg_connect,
    provider_manager,
    provider_tenant,
    provision,
    query,
    run_odoo_script,
)

FAR_FUTURE = "2099-12-31"


@pytest.fixture(scope="module")
def victim(cli, platform_db):
    """Another customer's active tenant, and the names the engine gave it."""
    provision(cli, "ss-victim")
    [(database, runtime_role, db_role)] = query(
        platform_db,
        "SELECT database_name, runtime_role, db_role FROM ipai_tenant WHERE code = 'ss-victim'",
    )
    return {"database_name": database, "runtime_role": runtime_role, "db_role": db_role}


@pytest.fixture(scope="module")
def reseller(admin_rpc, platform_server, victim):
    """ss-prov's staff: an administrator and a manager, logged in."""
    provider_id = provider_tenant(admin_rpc, "ss-prov", "SS Provider")
    admin = provider_manager(admin_rpc, platform_server, provider_id, "ss-admin", role="admin")
    manager = provider_manager(
        admin_rpc, platform_server, provider_id, "ss-manager", role="manager"
    )
    return {"provider_id": provider_id, "admin": admin, "manager": manager}


def tenants(platform_db):
    return query(
        platform_db,
        """SELECT code, state, database_name, db_role, runtime_role, analytics_schema,
                  tenant_type, parent_id, trial_end, partner_id, bill_to_provider,
                  billed_until, subscription_start
             FROM ipai_tenant ORDER BY id""",
    )


def routes(platform_db):
    return query(platform_db, "SELECT host, database_name, state FROM ipai_tenant_routing")


def victim_context(victim):
    return {"default_state": "active", **{f"default_{k}": v for k, v in victim.items()}}


def test_an_alias_of_another_customers_database_cannot_be_made(reseller, victim, platform_db):
    """The reported attack: the reseller's own values plus context defaults
    naming the victim's database, roles and an active state."""
    before_routes = routes(platform_db)
    alias = reseller["admin"].call(
        "ipai.tenant",
        "create",
        {"code": "ss-alias", "name": "Alias", "parent_id": reseller["provider_id"]},
        context=victim_context(victim),
    )
    [(state, database, runtime_role, db_role)] = query(
        platform_db,
        "SELECT state, database_name, runtime_role, db_role FROM ipai_tenant WHERE id = %s",
        [alias],
    )
    assert state == "draft"
    assert database == TENANT_DB_PREFIX + "ss-alias"
    assert victim["runtime_role"] not in (runtime_role, db_role)
    holders = query(
        platform_db,
        "SELECT code FROM ipai_tenant WHERE database_name = %s",
        [victim["database_name"]],
    )
    assert holders == [("ss-victim",)]
    assert routes(platform_db) == before_routes


def test_sub_tenants_take_no_billing_terms_from_the_context(reseller, admin_rpc, platform_db):
    victim_partner = (
        query(platform_db, "SELECT partner_id FROM ipai_tenant WHERE code = 'ss-victim'")[0][0]
        or admin_rpc.call("res.partner", "search", [], limit=1)[0]
    )
    context = {
        "default_billed_until": FAR_FUTURE,
        "default_subscription_start": FAR_FUTURE,
        "default_trial_end": FAR_FUTURE,
        "default_partner_id": victim_partner,
        "default_bill_to_provider": True,
        "default_overage_billed_month": "2099-12",
        "default_tenant_type": "platform_owner",
    }
    own = reseller["admin"].call(
        "ipai.tenant",
        "create",
        {"code": "ss-terms", "name": "Terms", "parent_id": reseller["provider_id"]},
        context=context,
    )
    [row] = query(
        platform_db,
        """SELECT t.trial_end - current_date = p.trial_days, t.partner_id,
                  coalesce(t.bill_to_provider, false), t.billed_until, t.subscription_start,
                  t.overage_billed_month, t.tenant_type
             FROM ipai_tenant t JOIN ipai_tenant_plan p ON p.id = t.plan_id
            WHERE t.id = %s""",
        [own],
    )
    assert row == (True, None, False, None, None, None, "client")
    # The same terms sent as values are refused outright.
    for field, value in (("trial_end", FAR_FUTURE), ("bill_to_provider", True)):
        before = tenants(platform_db)
        with pytest.raises(RpcError, match=r"platform managers"):
            reseller["admin"].call(
                "ipai.tenant",
                "create",
                {
                    "code": "ss-terms-2",
                    "name": "Terms",
                    "parent_id": reseller["provider_id"],
                    field: value,
                },
            )
        assert tenants(platform_db) == before


def test_a_domain_is_never_stored_verified_by_a_request(reseller, platform_db):
    before_routes = routes(platform_db)
    domain = reseller["admin"].call(
        "ipai.tenant.domain",
        "create",
        {"name": "shop.ss-attacker.example", "tenant_id": reseller["provider_id"]},
        context={
            "default_verified": True,
            "default_verified_at": "2026-01-01 00:00:00",
            "default_verification_token": "chosen-by-the-attacker",
        },
    )
    [(verified, verified_at, token)] = query(
        platform_db,
        "SELECT verified, verified_at, verification_token FROM ipai_tenant_domain WHERE id = %s",
        [domain],
    )
    assert (verified, verified_at) == (False, None)
    assert token != "chosen-by-the-attacker"
    assert routes(platform_db) == before_routes


def test_a_viewer_cannot_give_itself_a_role_through_defaults(
    reseller, admin_rpc, platform_server, platform_db
):
    viewer = provider_manager(
        admin_rpc, platform_server, reseller["provider_id"], "ss-viewer", role="viewer"
    )
    viewer_id = query(platform_db, "SELECT id FROM res_users WHERE login = 'ss-viewer'")[0][0]
    stranger_id = make_user(admin_rpc, "ss-stranger")
    before = query(
        platform_db, "SELECT user_id, tenant_id, role FROM ipai_tenant_assignment ORDER BY id"
    )
    for vals, context in (
        (
            {},
            {
                "default_tenant_id": reseller["provider_id"],
                "default_user_id": viewer_id,
                "default_role": "owner",
            },
        ),
        (
            {"tenant_id": reseller["provider_id"]},
            {"default_user_id": stranger_id, "default_role": "admin"},
        ),
    ):
        with pytest.raises(RpcError, match=r"(?i)access|not allowed|role"):
            viewer.call("ipai.tenant.assignment", "create", vals, context=context)
    own_assignment = viewer.call("ipai.tenant.assignment", "search", [("user_id", "=", viewer_id)])
    with pytest.raises(RpcError, match=r"(?i)access|not allowed|role"):
        viewer.call("ipai.tenant.assignment", "write", own_assignment, {"role": "owner"})
    after = query(
        platform_db, "SELECT user_id, tenant_id, role FROM ipai_tenant_assignment ORDER BY id"
    )
    assert after == before


def test_a_manager_cannot_turn_a_client_into_a_provider(reseller, platform_db):
    manager, admin = reseller["manager"], reseller["admin"]
    client = admin.call(
        "ipai.tenant",
        "create",
        {"code": "ss-client", "name": "Client", "parent_id": reseller["provider_id"]},
    )
    before = tenants(platform_db)
    with pytest.raises(RpcError, match=r"(?i)platform managers|Administrator"):
        manager.call("ipai.tenant", "write", [client], {"tenant_type": "provider"})
    with pytest.raises(RpcError, match=r"(?i)platform managers"):
        admin.call("ipai.tenant", "write", [client], {"tenant_type": "platform_owner"})
    assert tenants(platform_db) == before
    # The documented path: an administrator upgrades the client.
    admin.call("ipai.tenant", "action_upgrade_to_provider", [client])
    assert query(platform_db, "SELECT tenant_type FROM ipai_tenant WHERE id = %s", [client]) == [
        ("provider",)
    ]


def test_postgresql_refuses_a_second_live_tenant_on_a_database(victim, platform_db):
    """Whatever code path (or a bug) writes the row: at most one tenant that
    is not archived holds a database or role."""
    before = tenants(platform_db)
    for column in ("database_name", "runtime_role", "db_role"):
        with (
            closing(pg_connect(platform_db)) as conn,
            conn.cursor() as cr,
            pytest.raises(psycopg2.IntegrityError, match=r"live_unique"),
        ):
            cr.execute(
                f"UPDATE ipai_tenant SET {column} = %s WHERE code = 'ss-alias'",
                [victim[column]],
            )
    assert tenants(platform_db) == before


def test_the_routing_view_leaves_out_a_database_two_tenants_claim(victim, platform_db):
    """Were the constraint ever dropped, an alias still takes no route: the
    view lists a database, role or host for one tenant only (checked in a
    transaction that is rolled back)."""
    with closing(pg_connect(platform_db)) as conn, conn.cursor() as cr:
        conn.autocommit = False
        cr.execute("SET LOCAL lock_timeout = '10s'")
        for name in ("database_name", "runtime_role", "db_role"):
            cr.execute(f"ALTER TABLE ipai_tenant DROP CONSTRAINT ipai_tenant_{name}_live_unique")
        cr.execute(
            """UPDATE ipai_tenant SET state = 'maintenance', database_name = %s,
                      runtime_role = %s
                WHERE code = 'ss-alias'""",
            [victim["database_name"], victim["runtime_role"]],
        )
        cr.execute(
            "SELECT host, state FROM ipai_tenant_routing WHERE database_name = %s",
            [victim["database_name"]],
        )
        served = cr.fetchall()
        conn.rollback()
    assert served == []
    assert query(
        platform_db,
        "SELECT state FROM ipai_tenant_routing WHERE database_name = %s",
        [victim["database_name"]],
    ) == [("active",)]


def test_the_runtime_serves_neither_of_two_routes_to_one_database(victim, platform_db):
    """The tenant runtime's own check, on rows as a broken view would give
    them (a temporary table shadows the cell's view in the runtime's
    session; filled from the control plane's view of every cell's rows)."""
    script = f"""
import json
from odoo.addons.ipai_tenant_runtime.routing_map import RoutingMap
cr = env.cr
cr.execute("CREATE TEMP TABLE ipai_cell_routing AS SELECT * FROM ipai_tenant_routing")
cr.execute('''INSERT INTO ipai_cell_routing (host, database_name, state, tenant_role,
                                               plan_code, modules)
              VALUES ('alias.example', %s, 'maintenance', %s, 'trial', ARRAY['base']),
                     ('other.example', 'ss_other_db', 'active', 'ss_other_role', 'trial',
                      ARRAY['base'])''',
           [{victim["database_name"]!r}, {victim["runtime_role"]!r}])
hosts, tenants, pool = RoutingMap._load_tenants(cr)
print("RESULT" + json.dumps({{"hosts": hosts, "tenants": sorted(tenants)}}))
cr.rollback()
"""
    output = run_odoo_script(platform_db, script).stdout
    result = json.loads(output.split("RESULT", 1)[1].splitlines()[0])
    assert victim["database_name"] not in result["tenants"]
    assert victim["database_name"] not in result["hosts"].values()
    assert "ss_other_db" in result["tenants"], "a sound route is still served"
    assert result["hosts"]["other.example"] == "ss_other_db"
