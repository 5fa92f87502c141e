from odoo.exceptions import AccessError

from .common import TenantCase


class TestTenantSecurity(TenantCase):
    """A provider manager of A sees and manages A's subtree and nothing of B."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.make_two_provider_subtrees()
        cls.as_a = cls.Tenant.with_user(cls.manager_a)

    def test_search_sees_only_own_subtree(self):
        self.assertEqual(self.as_a.search([]), self.provider_a | self.client_a)
        self.assertFalse(self.as_a.search([("code", "=", "client-b")]))
        self.assertEqual(self.as_a.search_count([("id", "=", self.client_b.id)]), 0)

    def test_read_of_other_provider_is_refused(self):
        with self.assertRaises(AccessError):
            self.client_b.with_user(self.manager_a).read(["name"])
        with self.assertRaises(AccessError):
            self.provider_b.with_user(self.manager_a).name  # noqa: B018

    def test_write_of_other_provider_is_refused(self):
        with self.assertRaises(AccessError):
            self.client_b.with_user(self.manager_a).write({"name": "Hacked"})
        self.assertEqual(self.client_b.name, "Client-B")

    def test_name_search_and_read_group_hide_other_provider(self):
        names = [name for _id, name in self.as_a.name_search("client")]
        self.assertEqual(names, [self.client_a.display_name])
        groups = self.as_a.read_group([], ["parent_id"], ["parent_id"])
        self.assertEqual(sum(g["parent_id_count"] for g in groups), 2)

    def test_related_records_follow_the_tenant(self):
        self.client_b.action_provision()
        jobs = self.env["ipai.tenant.job"].with_user(self.manager_a).search([])
        self.assertFalse(jobs & self.client_b.job_ids)
        audit = self.env["ipai.audit.log"].with_user(self.manager_a).search([])
        self.assertFalse(audit.filtered(lambda e: e.tenant_code == "client-b"))

    def test_provider_manager_creates_only_inside_own_subtree(self):
        child = self.as_a.create(
            {"code": "a-new", "name": "A new", "parent_id": self.provider_a.id}
        )
        self.assertEqual(child.parent_id, self.provider_a)
        with self.assertRaises(AccessError):
            self.as_a.create({"code": "b-new", "name": "B new", "parent_id": self.provider_b.id})
        with self.assertRaises(AccessError):
            self.as_a.create({"code": "orphan", "name": "Orphan"})
        with self.assertRaises(AccessError):
            self.client_a.with_user(self.manager_a).parent_id = self.provider_b
        self.assertFalse(self.Tenant.search([("code", "in", ("b-new", "orphan"))]))

    def test_platform_user_reads_all_but_changes_nothing(self):
        from odoo.tests import new_test_user

        reader = new_test_user(
            self.env, login="reader", groups="ipai_tenant_core.group_platform_user"
        )
        as_reader = self.Tenant.with_user(reader)
        self.assertIn(self.client_b, as_reader.search([]))
        with self.assertRaises(AccessError):
            self.client_b.with_user(reader).write({"name": "Nope"})

    def test_removing_the_assignment_revokes_access(self):
        self.manager_a.ipai_assignment_ids.unlink()
        self.assertFalse(self.Tenant.with_user(self.manager_a).search([]))

    def test_plain_user_sees_nothing(self):
        from odoo.tests import new_test_user

        outsider = new_test_user(self.env, login="outsider", groups="base.group_user")
        with self.assertRaises(AccessError):
            self.Tenant.with_user(outsider).search([])
        with self.assertRaises(AccessError):
            self.client_b.with_user(outsider).read(["name"])
        with self.assertRaises(AccessError):
            self.Tenant.with_user(outsider).create({"code": "sneaky", "name": "Sneaky"})
        self.assertFalse(self.Tenant.search([("code", "=", "sneaky")]))
