from odoo.addons.ipai_platform_rules import roles
from odoo.addons.ipai_tenant_core.tests.common import TenantCase
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

ROLE_ORDER = ["viewer", "member", "manager", "admin", "owner"]


@tagged("post_install", "-at_install")
class TestTenantRoles(TenantCase):
    """Each role's powers, checked in the model methods themselves (the
    integration matrix in tests/security/test_tenant_roles.py drives the
    same checks over HTTP)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider = cls.make_tenant(
            "roles-prov", tenant_type="provider", parent_id=cls.platform.id
        )
        cls.client = cls.make_tenant("roles-client", parent_id=cls.provider.id)
        cls.people = {}
        for role in ROLE_ORDER:
            user = new_test_user(
                cls.env, login=f"roles-{role}", groups="ipai_tenant_core.group_provider_manager"
            )
            cls.env["ipai.tenant.assignment"].create(
                {"user_id": user.id, "tenant_id": cls.provider.id, "role": role}
            )
            cls.people[role] = user

    def test_each_power_starts_at_its_role(self):
        for power, weakest in roles.POWER_ROLE.items():
            for role in ROLE_ORDER:
                expected = ROLE_ORDER.index(role) >= ROLE_ORDER.index(weakest)
                self.assertEqual(roles.role_has(role, power), expected, (power, role))
        self.assertFalse(roles.role_has(False, roles.READ))

    def test_a_role_holds_on_the_subtree(self):
        for role, user in self.people.items():
            self.assertEqual(self.client.with_user(user)._role(), role)
            self.assertEqual(self.Tenant.with_user(user).search([]), self.provider | self.client)

    def test_lifecycle_actions_check_the_role_before_the_state(self):
        for action, weakest in (
            ("action_suspend", "manager"),
            ("action_reactivate", "manager"),
            ("action_backup", "manager"),
            ("action_drop", "owner"),
        ):
            for role, user in self.people.items():
                allowed = ROLE_ORDER.index(role) >= ROLE_ORDER.index(weakest)
                # A draft client: an allowed role is stopped by the state.
                with self.assertRaises(UserError) as caught:
                    getattr(self.client.with_user(user), action)()
                self.assertEqual(isinstance(caught.exception, AccessError), not allowed, action)

    def test_editing_needs_manager(self):
        for role, user in self.people.items():
            tenant = self.client.with_user(user)
            if role in ("viewer", "member"):
                with self.assertRaises(AccessError):
                    tenant.write({"name": f"By {role}"})
            else:
                tenant.write({"name": f"By {role}"})
                self.assertEqual(self.client.name, f"By {role}")

    def test_sub_tenants_need_admin(self):
        for role, user in self.people.items():
            values = {"code": f"roles-sub-{role}", "name": "Sub", "parent_id": self.provider.id}
            if role in ("admin", "owner"):
                self.assertTrue(self.Tenant.with_user(user).create(values))
            else:
                with self.assertRaises(AccessError):
                    self.Tenant.with_user(user).create(values)

    def test_archive_needs_owner(self):
        for role in ("viewer", "member", "manager", "admin"):
            with self.assertRaises(AccessError):
                self.client.with_user(self.people[role]).action_archive_tenant()
        self.client.with_user(self.people["owner"]).action_archive_tenant()
        self.assertEqual(self.client.state, "archived")

    def test_team_is_managed_by_admins_and_ownership_given_by_owners(self):
        newcomer = new_test_user(
            self.env, login="roles-new", groups="ipai_tenant_core.group_provider_manager"
        )
        Assignment = self.env["ipai.tenant.assignment"]
        values = {"user_id": newcomer.id, "tenant_id": self.client.id, "role": "viewer"}
        # Not on the team yet: even an owner cannot enlist them.
        with self.assertRaises(AccessError) as refused:  # Odoo's: rolls back to a savepoint
            Assignment.with_user(self.people["owner"]).create(values)
        self.assertIn("not on your team", str(refused.exception))
        Assignment.create({"user_id": newcomer.id, "tenant_id": self.provider.id, "role": "viewer"})
        with self.assertRaises(AccessError):
            Assignment.with_user(self.people["manager"]).create(values)
        assignment = Assignment.with_user(self.people["admin"]).create(values)
        with self.assertRaises(AccessError):
            assignment.with_user(self.people["admin"]).write({"role": "owner"})
        own = Assignment.search([("user_id", "=", self.people["admin"].id)])
        with self.assertRaises(AccessError):
            own.with_user(self.people["admin"]).write({"role": "owner"})
        assignment.with_user(self.people["owner"]).write({"role": "owner"})
        self.assertEqual(assignment.role, "owner")
