from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import NotifyCase


@tagged("post_install", "-at_install")
class TestWebhookSecurity(NotifyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider = cls.make_tenant(
            "sec-prov", tenant_type="provider", parent_id=cls.platform.id
        )
        cls.rival = cls.make_tenant("sec-rival", tenant_type="provider", parent_id=cls.platform.id)
        cls.manager_user = cls.make_provider_manager("sec-manager", cls.provider)

    def test_the_secret_is_stored_encrypted_and_shown_once(self):
        webhook = self.make_webhook()
        secret = webhook._secret()
        self.assertNotIn(secret, webhook.sudo().secret_token)
        self.assertTrue(webhook.sudo().secret_token.startswith("gAAAA"), "a Fernet token")
        shown = webhook.action_reveal_secret()
        self.assertIn(secret, shown["params"]["message"])
        with self.assertRaisesRegex(UserError, "already shown"):
            webhook.action_reveal_secret()
        webhook.action_rotate_secret()
        self.assertNotEqual(webhook._secret(), secret)
        self.assertIn(webhook._secret(), webhook.action_reveal_secret()["params"]["message"])

    def test_a_provider_manages_its_own_webhooks_only(self):
        own = self.make_webhook(owner=self.provider, name="own")
        rivals = self.make_webhook(owner=self.rival, name="rival's")
        as_manager = self.Webhook.with_user(self.manager_user)
        self.assertEqual(as_manager.search([]), own)
        with self.assertRaises(AccessError):
            rivals.with_user(self.manager_user).read(["url"])
        with self.assertRaises(AccessError):
            rivals.with_user(self.manager_user).write({"url": "https://evil.example/"})
        with self.assertRaises(AccessError):
            rivals.with_user(self.manager_user).action_reveal_secret()
        with self.assertRaises(AccessError):
            as_manager.create({"name": "x", "owner_id": self.rival.id, "url": "https://e.example"})
        # Its own: the secret is shown once, never readable as a field.
        self.assertIn(
            "only time",
            own.with_user(self.manager_user).action_reveal_secret()["params"]["message"],
        )
        with self.assertRaises(AccessError):
            own.with_user(self.manager_user).read(["secret_token"])
        with self.assertRaises(AccessError):
            own.with_user(self.manager_user).write({"secret_revealed": False})
        self.assertEqual(rivals.url, self.receiver.url)

    def test_a_client_tenant_cannot_own_a_webhook(self):
        client = self.make_tenant("sec-client")
        with self.assertRaisesRegex(Exception, "only the platform and providers"):
            self.make_webhook(owner=client)

    def test_a_neutralized_copy_posts_nothing(self):
        from odoo.modules import neutralize

        webhook = self.make_webhook()
        self.make_tenant("copied")
        self.fan_out()
        # Recorded in the original, not fanned out yet when it was copied.
        self.make_tenant("copied-late")
        queries = list(neutralize.get_neutralization_queries(["ipai_tenant_notify"]))
        self.assertTrue(queries)
        for query in queries:
            self.env.cr.execute(query)
        self.env.invalidate_all()
        self.assertFalse(webhook.active)
        self.assertEqual(webhook.delivery_ids.state, "failed")
        webhook.active = True  # switched on again in the copy: the past stays unsent
        self.assertEqual(self.deliver(), [])
        self.assertEqual(webhook.delivery_ids.tenant_id.mapped("code"), ["copied"])
