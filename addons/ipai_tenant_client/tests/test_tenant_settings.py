import json

from odoo.exceptions import AccessDenied
from odoo.tests import TransactionCase, new_test_user


class TestTenantSettings(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.params = cls.env["ir.config_parameter"].sudo()
        cls.params.set_param("ipai_tenant.code", "acme")
        cls.params.set_param("ipai_tenant.limits", json.dumps({"users": 3}))
        cls.user = new_test_user(cls.env, login="tenant_user", password="tenant-user-pass-1")

    def _login(self):
        user = self.user.with_user(self.user)
        return user._check_credentials(
            {"type": "password", "login": "tenant_user", "password": "tenant-user-pass-1"},
            {"interactive": False},
        )

    def test_settings_are_read_from_pushed_parameters(self):
        settings = self.env["ipai.tenant.settings"]._get()
        self.assertEqual(settings["code"], "acme")
        self.assertEqual(settings["limits"], {"users": 3})
        self.assertEqual(settings["state"], "active")

    def test_suspended_workspace_refuses_logins_and_active_one_accepts(self):
        self.assertEqual(self._login()["uid"], self.user.id)
        self.params.set_param("ipai_tenant.state", "suspended")
        with self.assertRaisesRegex(AccessDenied, "suspended"):
            self._login()
        self.params.set_param("ipai_tenant.state", "active")
        self.assertEqual(self._login()["uid"], self.user.id)
