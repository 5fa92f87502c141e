from odoo.tests import TransactionCase, new_test_user


class TenantCase(TransactionCase):
    """Fixtures shared by the control-plane tests: plans, a platform owner,
    and helpers to make tenants and users."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Tenant = cls.env["ipai.tenant"]
        cls.plan_trial = cls.env.ref("ipai_tenant_core.plan_trial")
        cls.plan_pro = cls.env.ref("ipai_tenant_core.plan_professional")
        cls.plan_provider = cls.env.ref("ipai_tenant_core.plan_provider")
        cls.platform = cls.env.ref("ipai_tenant_core.tenant_platform")
        cls.manager = new_test_user(
            cls.env, login="platform_manager", groups="ipai_tenant_core.group_platform_manager"
        )

    @classmethod
    def loopback_destination(cls, server, model):
        """Starts ``server`` (a loopback SMTP sink or webhook receiver) for
        the class and switches the database's own ``model`` records off, so
        that what the tests send goes to ``server`` and nowhere else."""
        server.start()
        cls.addClassCleanup(server.stop)
        cls.env[model].search([]).active = False
        return server

    @classmethod
    def make_tenant(cls, code, **values):
        values.setdefault("name", code.title())
        values.setdefault("tenant_type", "client")
        # Providers resell: their plan includes sub-tenants.
        default_plan = cls.plan_provider if values["tenant_type"] == "provider" else cls.plan_trial
        values.setdefault("plan_id", default_plan.id)
        return cls.Tenant.create({"code": code, **values})

    @classmethod
    def make_provider_manager(cls, login, provider):
        user = new_test_user(cls.env, login=login, groups="ipai_tenant_core.group_provider_manager")
        cls.env["ipai.tenant.assignment"].create(
            {"user_id": user.id, "tenant_id": provider.id, "role": "admin"}
        )
        return user

    @classmethod
    def make_two_provider_subtrees(cls):
        """Providers A and B under the platform, one client each, and
        manager_a, a provider manager of A only."""
        cls.provider_a = cls.make_tenant(
            "prov-a", tenant_type="provider", parent_id=cls.platform.id
        )
        cls.provider_b = cls.make_tenant(
            "prov-b", tenant_type="provider", parent_id=cls.platform.id
        )
        cls.client_a = cls.make_tenant("client-a", parent_id=cls.provider_a.id)
        cls.client_b = cls.make_tenant("client-b", parent_id=cls.provider_b.id)
        cls.manager_a = cls.make_provider_manager("manager_a", cls.provider_a)
