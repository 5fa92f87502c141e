from odoo.addons.ipai_tenant_core.tests.common import TenantCase
from odoo.exceptions import AccessError


class TestEngineSecurity(TenantCase):
    """A provider manager queues jobs on its own subtree, never on another's."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.make_two_provider_subtrees()

    def test_provider_manager_can_operate_own_tenants(self):
        self.client_a.with_user(self.manager_a).action_provision()
        self.assertEqual(self.client_a.state, "provisioning")
        with self.assertRaises(AccessError):
            self.client_b.with_user(self.manager_a).action_provision()
