from odoo.addons.ipai_tenant_core.tests.common import TenantCase
from odoo.exceptions import AccessError


class TestEngineSecurity(TenantCase):
    """A provider manager queues jobs on its own subtree, never on another's."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider_a = cls.make_tenant(
            "prov-a", tenant_type="provider", parent_id=cls.platform.id
        )
        cls.provider_b = cls.make_tenant(
            "prov-b", tenant_type="provider", parent_id=cls.platform.id
        )
        cls.client_a = cls.make_tenant("client-a", parent_id=cls.provider_a.id)
        cls.client_b = cls.make_tenant("client-b", parent_id=cls.provider_b.id)
        cls.manager_a = cls.make_provider_manager("manager_a", cls.provider_a)

    def test_provider_manager_can_operate_own_tenants(self):
        self.client_a.with_user(self.manager_a).action_provision()
        self.assertEqual(self.client_a.state, "provisioning")
        with self.assertRaises(AccessError):
            self.client_b.with_user(self.manager_a).action_provision()
