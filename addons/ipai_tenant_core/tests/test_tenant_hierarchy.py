from odoo.exceptions import UserError, ValidationError

from .common import TenantCase


class TestTenantHierarchy(TenantCase):
    def test_clients_and_internal_tenants_cannot_have_children(self):
        for parent_type in ("client", "internal"):
            parent = self.make_tenant(f"parent-{parent_type}", tenant_type=parent_type)
            with self.subTest(parent_type=parent_type), self.assertRaises(ValidationError):
                self.make_tenant(f"child-{parent_type}", parent_id=parent.id)

    def test_provider_subtree(self):
        provider = self.make_tenant("prov", tenant_type="provider", parent_id=self.platform.id)
        child = self.make_tenant("prov-child", parent_id=provider.id)
        subtree = self.Tenant.search([("id", "child_of", self.platform.id)])
        self.assertIn(child, subtree)
        self.assertTrue(child.parent_path.startswith(self.platform.parent_path))
        self.assertEqual(provider.subtenant_count, 1)

    def test_cycles_are_refused(self):
        top = self.make_tenant("top", tenant_type="provider")
        middle = self.make_tenant("middle", tenant_type="provider", parent_id=top.id)
        with self.assertRaises(ValidationError):
            top.parent_id = middle
        with self.assertRaises(ValidationError):
            top.parent_id = top
        self.assertFalse(top.parent_id)

    def test_upgrade_client_to_provider(self):
        client = self.make_tenant("growing")
        client.action_upgrade_to_provider()
        self.assertEqual(client.tenant_type, "provider")
        self.make_tenant("growing-child", parent_id=client.id)
        with self.assertRaises(UserError):
            client.action_upgrade_to_provider()

    def test_provider_with_children_cannot_become_client(self):
        provider = self.make_tenant("prov", tenant_type="provider")
        self.make_tenant("prov-child", parent_id=provider.id)
        with self.assertRaises(ValidationError):
            provider.tenant_type = "client"
        self.assertEqual(provider.tenant_type, "provider")

    def test_platform_owner_has_no_provider(self):
        provider = self.make_tenant("prov", tenant_type="provider")
        with self.assertRaises(ValidationError):
            self.make_tenant("owner2", tenant_type="platform_owner", parent_id=provider.id)
