"""Provider staff see only their own: they are internal users of the platform
database, where Odoo lets every internal user read every contact and login.
Attacks made as a provider's administrator over plain JSON-RPC (with crafted
contexts): list and read contacts and users, make a staff member who can
read invoices, add staff to another provider. And the backend still works
for them: their tenant's form and its chatter open."""

import pytest

from ..support import JsonRpc, RpcError, provider_manager, provider_tenant, query

ANY_CONTEXT = {"active_test": False, "default_groups_id": [], "allowed_company_ids": []}


def client_with_contact(admin_rpc, provider_id, code, contact):
    """A draft client of ``provider_id`` billed to a new partner ``contact``."""
    plan = admin_rpc.call("ipai.tenant.plan", "search", [("code", "=", "starter")])[0]
    tenant_id = admin_rpc.call(
        "ipai.tenant",
        "create",
        {"code": code, "name": code.upper(), "plan_id": plan, "parent_id": provider_id},
    )
    partner_id = admin_rpc.call(
        "res.partner", "create", {"name": contact, "email": f"billing@{code}.example"}
    )
    admin_rpc.call("ipai.tenant", "write", [tenant_id], {"partner_id": partner_id})
    return tenant_id, partner_id


def partner_of(admin_rpc, user_id):
    return admin_rpc.call("res.users", "read", [user_id], ["partner_id"])[0]["partner_id"][0]


@pytest.fixture(scope="module")
def providers(admin_rpc, platform_server):
    """Providers sv-a and sv-b, each with a billed client, an administrator
    (and sv-a a viewer); and a customer's contact of nobody's tenant."""
    a = provider_tenant(admin_rpc, "sv-a", "SV A")
    b = provider_tenant(admin_rpc, "sv-b", "SV B")
    a_admin = provider_manager(admin_rpc, platform_server, a, "sv-a-admin", role="admin")
    # Who posts in a chatter needs an e-mail address (Odoo's rule).
    admin_rpc.call("res.users", "write", [a_admin.uid], {"email": "admin@sv-a.example"})
    a_viewer = provider_manager(admin_rpc, platform_server, a, "sv-a-viewer", role="viewer")
    b_admin = provider_manager(admin_rpc, platform_server, b, "sv-b-admin", role="admin")
    a_client, a_contact = client_with_contact(admin_rpc, a, "sv-a-client", "SV A client billing")
    b_client, b_contact = client_with_contact(admin_rpc, b, "sv-b-client", "SV B client billing")
    stranger = admin_rpc.call(
        "res.partner", "create", {"name": "SV other customer", "email": "ceo@other.example"}
    )
    return {
        "a": a,
        "b": b,
        "a_admin": a_admin,
        "a_viewer": a_viewer,
        "b_admin": b_admin,
        "a_client": a_client,
        "b_client": b_client,
        "a_contact": a_contact,
        "b_contact": b_contact,
        "stranger": stranger,
    }


def test_provider_staff_list_only_their_own_contacts(providers, admin_rpc):
    p = providers
    admin_uid = admin_rpc.uid
    for rpc in (p["a_admin"], p["a_viewer"]):
        seen = {
            row["id"]
            for row in rpc.call(
                "res.partner", "search_read", [], ["name", "email"], context=ANY_CONTEXT
            )
        }
        own = partner_of(admin_rpc, rpc.uid)
        colleague = partner_of(
            admin_rpc, p["a_viewer"].uid if rpc is p["a_admin"] else p["a_admin"].uid
        )
        assert {own, colleague, p["a_contact"]} <= seen
        hidden = {
            p["b_contact"],
            p["stranger"],
            partner_of(admin_rpc, p["b_admin"].uid),
            partner_of(admin_rpc, admin_uid),
        }
        assert not seen & hidden
        for partner_id in hidden:
            with pytest.raises(RpcError, match=r"(?i)not allowed|access"):
                rpc.call(
                    "res.partner", "read", [partner_id], ["name", "email"], context=ANY_CONTEXT
                )
        # Nor through a name search or a count.
        assert rpc.call("res.partner", "name_search", "SV B client") == []
        assert rpc.call("res.partner", "search_count", [("email", "ilike", "other.example")]) == 0


def test_provider_staff_list_only_their_own_team(providers, admin_rpc):
    p = providers
    seen = {
        row["id"]: row["login"]
        for row in p["a_viewer"].call(
            "res.users", "search_read", [], ["login"], context=ANY_CONTEXT
        )
    }
    assert set(seen.values()) == {"sv-a-admin", "sv-a-viewer"}
    for user_id in (p["b_admin"].uid, admin_rpc.uid):
        with pytest.raises(RpcError, match=r"(?i)not allowed|access"):
            p["a_admin"].call("res.users", "read", [user_id], ["login"], context=ANY_CONTEXT)
    assert p["b_admin"].call("res.users", "search", [("login", "like", "sv-a-")]) == []


def test_the_backend_still_opens_for_provider_staff(providers):
    """What the web client reads for a provider's staff: its session, its
    tenants' form (with the billing contact and the team), the chatter."""
    p = providers
    rpc = p["a_admin"]
    me = rpc.call("res.users", "read", [rpc.uid], ["name", "login", "partner_id", "company_id"])
    assert me[0]["login"] == "sv-a-admin"
    spec = {
        "name": {},
        "partner_id": {"fields": {"display_name": {}}},
        "billing_partner_id": {"fields": {"display_name": {}}},
        "create_uid": {"fields": {"display_name": {}}},
        "assignment_ids": {"fields": {"user_id": {"fields": {"display_name": {}}}, "role": {}}},
        "message_follower_ids": {"fields": {"display_name": {}}},
    }
    for tenant_id in (p["a"], p["a_client"]):
        [values] = rpc.call("ipai.tenant", "web_read", [tenant_id], spec)
        assert values["create_uid"]["display_name"]  # a platform admin: its name only
    [client] = rpc.call("ipai.tenant", "web_read", [p["a_client"]], spec)
    assert client["partner_id"]["display_name"] == "SV A client billing"
    # A note in the chatter, then the chatter as the web client loads it.
    rpc.call("ipai.tenant", "message_post", [p["a_client"]], body="Note from the provider")
    thread = rpc._post(
        "/mail/thread/data",
        {
            "thread_model": "ipai.tenant",
            "thread_id": p["a"],
            "request_list": ["activities", "attachments", "followers", "suggestedRecipients"],
        },
    )
    assert thread
    messages = rpc._post(
        "/mail/thread/messages", {"thread_model": "ipai.tenant", "thread_id": p["a_client"]}
    )
    assert messages["messages"]
    assert rpc._post("/mail/action", {"init_messaging": {}})


def _account_groups(platform_db, user_id):
    return query(
        platform_db,
        "SELECT d.name FROM res_groups_users_rel r JOIN ir_model_data d "
        "ON d.model = 'res.groups' AND d.res_id = r.gid AND d.module = 'account' "
        "WHERE r.uid = %s",
        [user_id],
    )


def test_a_staff_member_added_by_a_provider_gets_the_provider_group_only(
    providers, admin_rpc, platform_db, platform_server
):
    p = providers
    system = admin_rpc.call("ir.model.data", "check_object_reference", "base", "group_system")[1]
    accountant = admin_rpc.call(
        "ir.model.data", "check_object_reference", "account", "group_account_manager"
    )[1]
    crafted = {
        "default_tenant_id": p["a"],
        "default_groups_id": [(6, 0, [system, accountant])],
        "default_share": False,
        "default_company_ids": [(6, 0, [1])],
    }
    wizard = p["a_admin"].call(
        "ipai.tenant.staff.add",
        "create",
        {"name": "SV A Clerk", "email": "clerk@sv-a.example", "role": "manager"},
        context=crafted,
    )
    p["a_admin"].call("ipai.tenant.staff.add", "action_add", [wizard], context=crafted)
    [(user_id,)] = query(platform_db, "SELECT id FROM res_users WHERE login = 'clerk@sv-a.example'")
    groups = query(
        platform_db,
        "SELECT d.module || '.' || d.name FROM res_groups_users_rel r JOIN ir_model_data d "
        "ON d.model = 'res.groups' AND d.res_id = r.gid WHERE r.uid = %s ORDER BY 1",
        [user_id],
    )
    assert {name for (name,) in groups} <= {
        "ipai_tenant_core.group_provider_manager",
        "base.group_user",
        "base.group_no_one",
    }
    assert query(
        platform_db,
        "SELECT tenant_id, role FROM ipai_tenant_assignment WHERE user_id = %s",
        [user_id],
    ) == [(p["a"], "manager")]
    # The new member is on the team the administrator sees.
    assert p["a_admin"].call("res.users", "search", [("login", "=", "clerk@sv-a.example")]) == [
        user_id
    ]
    # Logged in, the member reads no invoice.
    admin_rpc.call("res.users", "write", [user_id], {"password": "clerk-pass"})
    clerk = JsonRpc(platform_server.url, platform_server.dbname, "clerk@sv-a.example", "clerk-pass")
    with pytest.raises(RpcError, match=r"(?i)not allowed|access"):
        clerk.call("account.move", "search_read", [], ["name", "partner_id"])


@pytest.mark.parametrize(
    ("who", "tenant", "role"),
    [
        ("a_admin", "b", "admin"),  # another provider's tenant
        ("a_admin", "a", "owner"),  # an owner, by an administrator
        ("a_viewer", "a", "viewer"),  # a viewer has no team power
    ],
)
def test_staff_cannot_be_added_beyond_the_callers_power(providers, platform_db, who, tenant, role):
    p = providers
    email = f"{who}-{tenant}-{role}@probe.example"
    with pytest.raises(RpcError, match=r"(?i)not allowed|access|role|administrator|owner"):
        wizard = p[who].call(
            "ipai.tenant.staff.add",
            "create",
            {"name": "Probe", "email": email, "role": role},
            context={"default_tenant_id": p[tenant]},
        )
        p[who].call("ipai.tenant.staff.add", "action_add", [wizard])
    assert query(platform_db, "SELECT id FROM res_users WHERE login = %s", [email]) == []


def test_a_new_platform_user_gets_no_accounting_rights(admin_rpc, platform_db):
    """Odoo's template user makes every new user an invoicing administrator;
    on the platform, accounting is given on purpose only."""
    user_id = admin_rpc.call("res.users", "create", {"name": "SV new staff", "login": "sv-new"})
    assert _account_groups(platform_db, user_id) == []
    template_groups = query(
        platform_db,
        "SELECT d.name FROM res_groups_users_rel r JOIN ir_model_data d ON d.model = 'res.groups' "
        "AND d.res_id = r.gid AND d.module = 'account' WHERE r.uid = "
        "(SELECT res_id FROM ir_model_data WHERE module = 'base' AND name = 'default_user')",
    )
    assert template_groups == []


def test_a_provider_cannot_enlist_someone_outside_its_team(providers, admin_rpc, platform_db):
    """sv-a's administrator gives a role on its own tenant to another
    provider's administrator, to platform staff, to a platform user with no
    role anywhere: each would then be readable by sv-a. All refused; nothing
    stored, none of them readable. Moving an assignment to such a user by a
    write is refused too, and someone on the team can still be given a role."""
    p = providers
    loner = admin_rpc.call("res.users", "create", {"name": "SV loner", "login": "sv-loner"})
    before = query(
        platform_db, "SELECT id, user_id, tenant_id, role FROM ipai_tenant_assignment ORDER BY id"
    )
    for outsider in (p["b_admin"].uid, admin_rpc.uid, loner):
        for context in ({}, {"default_user_id": outsider}):
            values = {"tenant_id": p["a_client"], "role": "viewer"}
            if not context:
                values["user_id"] = outsider
            with pytest.raises(RpcError, match="not on your team"):
                p["a_admin"].call("ipai.tenant.assignment", "create", values, context=context)
        with pytest.raises(RpcError, match=r"(?i)not allowed|access"):
            p["a_admin"].call("res.users", "read", [outsider], ["login"])
    viewer_assignment = p["a_admin"].call(
        "ipai.tenant.assignment", "search", [("user_id", "=", p["a_viewer"].uid)]
    )
    with pytest.raises(RpcError, match="not on your team"):
        p["a_admin"].call(
            "ipai.tenant.assignment", "write", viewer_assignment, {"user_id": p["b_admin"].uid}
        )
    assert (
        query(
            platform_db,
            "SELECT id, user_id, tenant_id, role FROM ipai_tenant_assignment ORDER BY id",
        )
        == before
    )
    # The team's viewer gets a role on the client: allowed.
    p["a_admin"].call(
        "ipai.tenant.assignment",
        "create",
        {"user_id": p["a_viewer"].uid, "tenant_id": p["a_client"], "role": "member"},
    )
