import time

from odoo.addons.ipai_tenant_runtime import credentials
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged

from ..models.ipai_bi_dashboard import BiNotConfiguredError, rls_clause
from ..superset_api import client, crypto
from .common import BiCase


@tagged("post_install", "-at_install")
class TestBiDashboard(BiCase):
    def test_menu_entry_follows_the_dashboard(self):
        menu = self.dashboard.menu_id
        self.assertEqual(menu.parent_id, self.env.ref("ipai_bi_superset_embed.menu_bi_root"))
        self.assertEqual(menu.groups_id, self.managers)
        self.assertEqual(self.dashboard.action_id.tag, "ipai_bi_superset_embed.dashboard")
        self.assertEqual(self.dashboard.action_id.params, {"dashboard_id": self.dashboard.id})

        self.dashboard.write(
            {"name": "Gross margins", "group_ids": [(4, self.env.ref("base.group_user").id)]}
        )
        self.assertEqual(menu.name, "Gross margins")
        self.assertIn(self.env.ref("base.group_user"), menu.groups_id)

        action = self.dashboard.action_id
        self.dashboard.unlink()
        self.assertFalse(menu.exists())
        self.assertFalse(action.exists())

    def test_only_allowed_groups_see_a_dashboard(self):
        dashboards = self.env["ipai.bi.dashboard"]
        for_manager = dashboards.with_user(self.manager)._visible_dashboards()
        self.assertEqual(for_manager.get(self.dashboard.id), self.dashboard.embedded_uuid)
        self.assertNotIn(999_999, for_manager)
        for_employee = dashboards.with_user(self.employee)._visible_dashboards()
        self.assertNotIn(self.dashboard.id, for_employee)
        visible_menus = self.env["ir.ui.menu"].with_user(self.employee)._visible_menu_ids()
        self.assertNotIn(self.dashboard.menu_id.id, visible_menus)

    def test_embedded_uuid_is_checked(self):
        with self.assertRaises(ValidationError):
            self.dashboard.embedded_uuid = "'; drop table x; --"

    def test_rls_clause_is_bound_to_a_valid_tenant_code(self):
        self.assertEqual(rls_clause("acme"), "tenant_code = 'acme'")
        for bad in ("", None, "acme' OR '1'='1", "Acme", "a"):
            with self.assertRaises(BiNotConfiguredError):
                rls_clause(bad)

    def test_warm_cache_answers_without_superset(self):
        # Nothing configured: any call to Superset would raise.
        dashboard = self.dashboard.with_user(self.manager)
        key = dashboard._guest_token_key(dashboard._settings(), dashboard.embedded_uuid)
        payload = {"token": "cached", "expires_at": time.time() + 300}
        client.guest_tokens.put(key, payload, time.time() + 270)
        self.assertIs(dashboard._issue_guest_token(), payload)

    def test_no_token_for_a_user_who_may_not_see_the_dashboard(self):
        # Even a token in the cache under that user's key is not served.
        dashboard = self.dashboard.with_user(self.employee)
        key = dashboard._guest_token_key(dashboard._settings(), self.dashboard.embedded_uuid)
        client.guest_tokens.put(key, {"token": "cached"}, time.time() + 270)
        with self.assertRaises(AccessError):
            dashboard._issue_guest_token()

    def test_a_new_embedded_uuid_never_serves_the_old_token(self):
        dashboard = self.dashboard.with_user(self.manager)
        old_key = dashboard._guest_token_key(dashboard._settings(), self.dashboard.embedded_uuid)
        # As if another worker still held it: this worker's cache is not cleared.
        self.dashboard.embedded_uuid = "0c6f3a8e-5b7d-4c1e-9f2a-3d4b5c6e7f80"
        client.guest_tokens.put(old_key, {"token": "old"}, time.time() + 270)
        with self.assertRaises(BiNotConfiguredError):
            dashboard._issue_guest_token()

    def test_expiring_token_is_not_served_from_cache(self):
        dashboard = self.dashboard.with_user(self.manager)
        key = dashboard._guest_token_key(dashboard._settings(), dashboard.embedded_uuid)
        client.guest_tokens.put(key, {"token": "stale"}, time.time() - 1)
        with self.assertRaises(BiNotConfiguredError):
            dashboard._issue_guest_token()

    def test_new_settings_never_serve_an_old_token(self):
        dashboard = self.dashboard.with_user(self.manager)
        key = dashboard._guest_token_key(dashboard._settings(), dashboard.embedded_uuid)
        client.guest_tokens.put(key, {"token": "old"}, time.time() + 270)
        self.params.set_param("ipai_bi_superset_embed.superset_url", "http://127.0.0.1:9")
        new_key = dashboard._guest_token_key(dashboard._settings(), dashboard.embedded_uuid)
        self.assertNotEqual(new_key, key)
        with self.assertRaises(BiNotConfiguredError):
            dashboard._issue_guest_token()


@tagged("post_install", "-at_install")
class TestBiSettings(BiCase):
    def _save_settings(self):
        """The settings form filled in and saved, as an administrator does."""
        self.env["res.config.settings"].create(
            {
                "ipai_bi_superset_url": "http://127.0.0.1:9",
                "ipai_bi_username": "ipai_svc_acme",
                "ipai_bi_workspace": "ipai_acme",
                "ipai_bi_password": "s3cret-service-password",
            }
        ).execute()

    def test_password_is_stored_encrypted_and_never_read_back(self):
        self._save_settings()
        stored = self.params.get_param("ipai_bi_superset_embed.password")
        self.assertNotIn("s3cret", stored)
        # Sealed with the address it may be sent to.
        self.assertEqual(
            crypto.open_login(self.env.cr.dbname, stored),
            ("http://127.0.0.1:9", "s3cret-service-password"),
        )
        # Under this database's own key: no other database (nor the
        # platform's key) opens it, so planting it elsewhere reveals nothing.
        with self.assertRaises(crypto.MissingKeyError):
            crypto.open_login(self.env.cr.dbname + "_other", stored)
        fresh = self.env["res.config.settings"].create({})
        self.assertFalse(fresh.ipai_bi_password)
        self.assertTrue(fresh.ipai_bi_password_set)
        # Saving the form again without typing a password keeps the stored one.
        fresh.execute()
        self.assertEqual(self.params.get_param("ipai_bi_superset_embed.password"), stored)

    def test_the_service_login_goes_only_where_it_was_sealed(self):
        """An administrator points the Superset URL elsewhere without
        retyping the password: the runtime still logs in at the sealed
        address; a password in the old, unsealed form is refused."""
        self._save_settings()
        self.params.set_param("ipai_bi_superset_embed.superset_url", "http://attacker.example")
        dashboard = self.dashboard.with_user(self.manager)
        superset = dashboard._superset_client(dashboard._settings())
        self.assertEqual(superset.url, "http://127.0.0.1:9")
        unsealed = credentials.encrypt_for_database(self.env.cr.dbname, "s3cret-service-password")
        self.params.set_param("ipai_bi_superset_embed.password", unsealed)
        with self.assertRaisesRegex(BiNotConfiguredError, "not sealed"):
            dashboard._superset_client(dashboard._settings())

    def test_settings_fields_are_for_administrators_only(self):
        field = self.env["res.config.settings"]._fields["ipai_bi_password"]
        self.assertEqual(field.groups, "base.group_system")
