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
