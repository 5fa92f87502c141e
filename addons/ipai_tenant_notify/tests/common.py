"""Fixtures of the notification tests: a real HTTP receiver on loopback
(receiver.py) and a case that points the platform's webhooks at it."""

from odoo.addons.ipai_tenant_core.tests.common import TenantCase

from ..notify import outbound
from .receiver import RECEIVER_ADDRESS, WebhookReceiver


class NotifyCase(TenantCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Earlier webhooks of this database are not part of these tests.
        cls.receiver = cls.loopback_destination(WebhookReceiver(), "ipai.webhook")
        cls.params = cls.env["ir.config_parameter"].sudo()
        cls.params.set_param("ipai_tenant_notify.retry_base_seconds", "30")
        cls.params.set_param(outbound.ALLOW_HOSTS_PARAM, RECEIVER_ADDRESS)
        cls.Webhook = cls.env["ipai.webhook"]
        cls.Delivery = cls.env["ipai.webhook.delivery"]

    def setUp(self):
        super().setUp()
        self.receiver.take()
        self.receiver.statuses = []

    def make_webhook(self, owner=None, **values):
        values.setdefault("name", "test hook")
        values.setdefault("url", self.receiver.url)
        webhook = self.Webhook.create({"owner_id": (owner or self.platform).id, **values})
        self.receiver.secret = webhook._secret()
        return webhook

    def fan_out(self):
        """What the delivery cron does first: the recorded events become
        deliveries."""
        self.env["ipai.webhook.event"]._fan_out()
        self.env.invalidate_all()

    def topics(self, webhook):
        self.fan_out()
        return webhook.delivery_ids.sorted("id").mapped("topic")

    def deliver(self):
        self.Delivery._deliver_due()
        self.env.invalidate_all()
        return self.receiver.take()

    @staticmethod
    def due_now(deliveries):
        """What waiting for the backoff would do, without waiting."""
        deliveries.sudo().write({"next_attempt_at": "2000-01-01 00:00:00"})
