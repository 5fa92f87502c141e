from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from ..notify import retry
from .common import RECEIVER_ADDRESS, NotifyCase


@tagged("post_install", "-at_install")
class TestWebhookDelivery(NotifyCase):
    def test_a_delivery_is_a_signed_json_event_with_an_id(self):
        webhook = self.make_webhook()
        tenant = self.make_tenant("signed", admin_email="boss@signed.example")
        [request] = self.deliver()
        self.assertTrue(request["valid"], "the signature checks out with the secret")
        event = request["event"]
        self.assertEqual(event["type"], "tenant.created")
        self.assertEqual(event["data"]["tenant"]["code"], "signed")
        self.assertEqual(event["id"], webhook.delivery_ids.event_uuid)
        self.assertEqual(request["headers"]["X-Ipai-Event"], "tenant.created")
        self.assertEqual(request["headers"]["Content-Type"], "application/json")
        self.assertEqual(webhook.delivery_ids.state, "delivered")
        self.assertEqual(webhook.attempt_ids.status_code, 200)
        self.assertTrue(tenant)

    def test_a_signature_made_with_another_secret_does_not_verify(self):
        self.make_webhook()
        self.receiver.secret = "not-the-secret"
        self.make_tenant("forged")
        [request] = self.deliver()
        self.assertFalse(request["valid"])

    def test_a_failed_delivery_is_retried_with_exponential_backoff(self):
        webhook = self.make_webhook()
        self.receiver.statuses = [500, 502]
        self.make_tenant("flaky")
        self.fan_out()
        delivery = webhook.delivery_ids
        before = fields.Datetime.now()
        [first] = self.deliver()
        self.assertEqual(
            (delivery.state, delivery.attempts, delivery.last_status), ("pending", 1, 500)
        )
        self.assertAlmostEqual(
            (delivery.next_attempt_at - before).total_seconds(), 30, delta=5, msg="base delay"
        )
        self.assertEqual(self.deliver(), [], "nothing is sent before the backoff is over")

        self.due_now(delivery)
        before = fields.Datetime.now()
        [second] = self.deliver()
        self.assertEqual(delivery.attempts, 2)
        self.assertAlmostEqual(
            (delivery.next_attempt_at - before).total_seconds(), 60, delta=5, msg="doubled"
        )
        self.due_now(delivery)
        [third] = self.deliver()
        self.assertEqual((delivery.state, delivery.attempts), ("delivered", 3))
        # One event, three attempts: the same id, each signed afresh.
        ids = {r["event"]["id"] for r in (first, second, third)}
        self.assertEqual(len(ids), 1)
        self.assertTrue(all(r["valid"] for r in (first, second, third)))
        self.assertEqual(webhook.attempt_ids.sorted("id").mapped("status_code"), [500, 502, 200])
        self.assertEqual(webhook.attempt_ids.sorted("id").mapped("success"), [False, False, True])

    def test_a_delivery_gives_up_after_the_maximum_attempts(self):
        self.params.set_param("ipai_tenant_notify.max_attempts", "2")
        self.params.set_param("ipai_tenant_notify.disable_min_attempts", "100")
        webhook = self.make_webhook()
        self.receiver.statuses = [500, 500, 500]
        self.make_tenant("doomed")
        self.deliver()
        self.due_now(webhook.delivery_ids)
        self.deliver()
        self.assertEqual(webhook.delivery_ids.state, "failed")
        self.assertFalse(webhook.delivery_ids.next_attempt_at)
        self.assertTrue(webhook.active, "two failures in an hour are below the minimum")

    def test_an_unreachable_receiver_is_a_failed_attempt_not_a_crash(self):
        # The receivers' allowed address, on a port where nothing listens.
        webhook = self.make_webhook(url=f"http://{RECEIVER_ADDRESS}:9/nothing-listens")
        self.make_tenant("nowhere")
        self.deliver()
        attempt = webhook.attempt_ids
        self.assertEqual((attempt.success, attempt.status_code), (False, 0))
        self.assertIn("ConnectionError", attempt.error)

    def test_mostly_failing_webhook_is_disabled_and_its_owner_told(self):
        self.params.set_param("ipai_tenant_notify.disable_min_attempts", "5")
        self.platform.admin_email = "ops@platform.example"
        webhook = self.make_webhook()
        self.receiver.statuses = [200] + [500] * 10
        for index in range(7):
            self.make_tenant(f"burst{index}")
        requests = self.deliver()
        # 1 success, then failures until 4 of 5 (80 %) failed: disabled, the
        # remaining two deliveries wait.
        self.assertEqual(len(requests), 5)
        self.assertFalse(webhook.active)
        self.assertIn("4 of 5", webhook.disabled_reason)
        self.assertEqual(webhook.pending_count, 6)
        mail = self.env["mail.mail"].search(
            [("model", "=", "ipai.webhook"), ("res_id", "=", webhook.id)]
        )
        self.assertEqual(mail.email_to, "ops@platform.example")
        self.assertIn("was disabled", mail.subject)
        self.assertEqual(self.deliver(), [], "a disabled webhook receives nothing")

        # Enabled again once the receiver is mended: what waited is sent.
        webhook.active = True
        self.assertFalse(webhook.disabled_reason)
        self.receiver.statuses = []
        self.due_now(webhook.delivery_ids.filtered(lambda d: d.state == "pending"))
        self.assertEqual(len(self.deliver()), 6)

    def test_failures_under_the_threshold_keep_the_webhook(self):
        self.params.set_param("ipai_tenant_notify.disable_min_attempts", "5")
        webhook = self.make_webhook()
        self.receiver.statuses = [200, 500, 200, 500, 200, 200]
        for index in range(6):
            self.make_tenant(f"mixed{index}")
        self.deliver()
        self.assertTrue(webhook.active)

    def test_slack_gets_one_line_of_text_and_no_signature(self):
        webhook = self.make_webhook(kind="slack", name="ops channel")
        self.make_tenant("chatty", name="Chatty Ltd")
        [request] = self.deliver()
        self.assertEqual(list(request["event"]), ["text"])
        self.assertIn("tenant.created: Chatty Ltd (chatty)", request["event"]["text"])
        self.assertNotIn("X-Ipai-Signature", request["headers"])
        self.assertEqual(webhook.delivery_ids.state, "delivered")

    def test_backoff_doubles_up_to_an_hour(self):
        self.assertEqual(
            [retry.next_delay(n, 30) for n in (1, 2, 3, 8, 20)],
            [timedelta(seconds=s) for s in (30, 60, 120, 3600, 3600)],
        )
        self.assertFalse(retry.should_disable(4, 4, 5))
        self.assertFalse(retry.should_disable(10, 7, 5), "70 % is not over 70 %")
        self.assertTrue(retry.should_disable(10, 8, 5))
