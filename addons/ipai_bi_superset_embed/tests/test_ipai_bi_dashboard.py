import time

from odoo.exceptions import ValidationError
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
        self.assertTrue(dashboards.with_user(self.manager)._visible_dashboard(self.dashboard.id))
        self.assertFalse(dashboards.with_user(self.employee)._visible_dashboard(self.dashboard.id))
        self.assertFalse(dashboards.with_user(self.manager)._visible_dashboard(999_999))
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
        key = dashboard._guest_token_key(dashboard._settings())
        payload = {"token": "cached", "expires_at": time.time() + 300}
        client.guest_tokens.put(key, payload, time.time() + 270)
        self.assertIs(dashboard._issue_guest_token(), payload)
        # Another user, same dashboard: not cached, and Superset is not configured.
        with self.assertRaises(BiNotConfiguredError):
            self.dashboard.with_user(self.employee)._issue_guest_token()

    def test_expiring_token_is_not_served_from_cache(self):
        dashboard = self.dashboard.with_user(self.manager)
        key = dashboard._guest_token_key(dashboard._settings())
        client.guest_tokens.put(key, {"token": "stale"}, time.time() - 1)
        with self.assertRaises(BiNotConfiguredError):
            dashboard._issue_guest_token()

    def test_new_settings_never_serve_an_old_token(self):
        dashboard = self.dashboard.with_user(self.manager)
        key = dashboard._guest_token_key(dashboard._settings())
        client.guest_tokens.put(key, {"token": "old"}, time.time() + 270)
        self.params.set_param("ipai_bi_superset_embed.superset_url", "http://127.0.0.1:9")
        self.assertNotEqual(dashboard._guest_token_key(dashboard._settings()), key)
        with self.assertRaises(BiNotConfiguredError):
            dashboard._issue_guest_token()


@tagged("post_install", "-at_install")
class TestBiSettings(BiCase):
    def test_password_is_stored_encrypted_and_never_read_back(self):
        settings = self.env["res.config.settings"].create(
            {
                "ipai_bi_superset_url": "http://127.0.0.1:9",
                "ipai_bi_username": "ipai_svc_acme",
                "ipai_bi_workspace": "ipai_acme",
                "ipai_bi_password": "s3cret-service-password",
            }
        )
        settings.execute()
        stored = self.params.get_param("ipai_bi_superset_embed.password")
        self.assertNotIn("s3cret", stored)
        self.assertEqual(crypto.decrypt(stored), "s3cret-service-password")
        fresh = self.env["res.config.settings"].create({})
        self.assertFalse(fresh.ipai_bi_password)
        self.assertTrue(fresh.ipai_bi_password_set)
        # Saving the form again without typing a password keeps the stored one.
        fresh.execute()
        self.assertEqual(self.params.get_param("ipai_bi_superset_embed.password"), stored)

    def test_settings_fields_are_for_administrators_only(self):
        field = self.env["res.config.settings"]._fields["ipai_bi_password"]
        self.assertEqual(field.groups, "base.group_system")
