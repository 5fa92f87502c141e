from odoo.tests import tagged

from .common import NotifyCase


@tagged("post_install", "-at_install")
class TestWebhookEvents(NotifyCase):
    def engine_job(self, tenant, job_type):
        """A job the runner is running for ``tenant``."""
        return (
            self.env["ipai.tenant.job"]
            .sudo()
            .create({"tenant_id": tenant.id, "job_type": job_type, "state": "running"})
        )

    def test_the_engine_state_changes_are_events(self):
        webhook = self.make_webhook()
        tenant = self.make_tenant("life")
        create = self.engine_job(tenant, "create")
        tenant._set_state_from_engine("provisioning")
        tenant._set_state_from_engine("active")
        create.state = "done"
        tenant._set_state_from_engine("suspended")
        reactivate = self.engine_job(tenant, "reactivate")
        tenant._set_state_from_engine("active")
        reactivate.state = "done"
        tenant.plan_id = self.plan_pro
        archive = self.engine_job(tenant, "archive")
        tenant._set_state_from_engine("archived")
        archive.state = "done"
        self.assertEqual(
            self.topics(webhook),
            [
                "tenant.created",
                "tenant.activated",
                "tenant.suspended",
                "tenant.reactivated",
                "tenant.plan_changed",
                "tenant.archived",
            ],
        )
        plan_event = webhook.delivery_ids.filtered(lambda d: d.topic == "tenant.plan_changed")
        self.assertIn('"previous_plan": "trial"', plan_event.event_id.payload)
        self.assertIn('"plan": "professional"', plan_event.event_id.payload)

    def test_a_drop_and_a_failed_job_are_events(self):
        webhook = self.make_webhook()
        tenant = self.make_tenant("gone")
        tenant._set_state_from_engine("provisioning")
        tenant._set_state_from_engine("active")
        failed_suspend = self.engine_job(tenant, "suspend")
        failed_suspend._engine_fail("the tenant's database did not answer", [])
        # The runner commits a job's end before the next job of the tenant:
        # the one-open-job index must see the failed state first.
        self.env.flush_all()
        self.engine_job(tenant, "drop")
        tenant._set_state_from_engine("archived")
        self.assertEqual(self.topics(webhook)[-2:], ["job.failed", "tenant.dropped"])
        failed = webhook.delivery_ids.filtered(lambda d: d.topic == "job.failed")
        self.assertIn("did not answer", failed.event_id.payload)

    def test_webhooks_subscribe_to_some_events_only(self):
        suspended_only = self.make_webhook(
            topic_ids=[self.env.ref("ipai_tenant_notify.topic_tenant_suspended").id]
        )
        tenant = self.make_tenant("picky")
        tenant._set_state_from_engine("provisioning")
        tenant._set_state_from_engine("active")
        tenant._set_state_from_engine("suspended")
        self.assertEqual(self.topics(suspended_only), ["tenant.suspended"])

    def test_a_provider_webhook_hears_its_subtree_only(self):
        provider = self.make_tenant("hear-prov", tenant_type="provider", parent_id=self.platform.id)
        other = self.make_tenant("deaf-prov", tenant_type="provider", parent_id=self.platform.id)
        platform_hook = self.make_webhook(name="platform")
        provider_hook = self.make_webhook(owner=provider, name="provider")
        other_hook = self.make_webhook(owner=other, name="other")
        self.make_tenant("hear-client", parent_id=provider.id)
        self.make_tenant("stranger")
        self.fan_out()
        self.assertEqual(provider_hook.delivery_ids.tenant_id.mapped("code"), ["hear-client"])
        self.assertFalse(other_hook.delivery_ids)
        self.assertEqual(
            sorted(platform_hook.delivery_ids.tenant_id.mapped("code")),
            ["hear-client", "stranger"],
        )

    def test_a_change_rolled_back_sends_nothing(self):
        webhook = self.make_webhook()
        tenant = self.make_tenant("undone")
        tenant._set_state_from_engine("provisioning")
        with self.assertRaises(RuntimeError), self.env.cr.savepoint():
            tenant._set_state_from_engine("active")
            raise RuntimeError("the step failed after the state change")
        self.env.invalidate_all()
        self.assertEqual(self.topics(webhook), ["tenant.created"])

    def test_the_change_records_the_event_and_the_cron_fans_it_out(self):
        webhook = self.make_webhook()
        down = self.make_webhook(name="down")
        cron = self.env.ref("ipai_tenant_notify.ir_cron_deliver_webhooks")
        triggers = self.env["ir.cron.trigger"].sudo().search_count([("cron_id", "=", cron.id)])
        tenant = self.make_tenant("outbox")
        event = self.env["ipai.webhook.event"].search([("tenant_id", "=", tenant.id)])
        self.assertEqual(event.topic, "tenant.created")
        self.assertTrue(event.fan_out_pending)
        self.assertFalse(event.delivery_ids, "no fan-out in the change's transaction")
        self.assertGreater(
            self.env["ir.cron.trigger"].sudo().search_count([("cron_id", "=", cron.id)]),
            triggers,
            "the delivery cron is woken",
        )
        # Between the change and the fan-out: one webhook is disabled
        # automatically (its deliveries wait for it), another one is made.
        down._auto_disable(10, 9)
        later = self.make_webhook(name="later")
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE ipai_webhook SET create_date = create_date + interval '1 minute' WHERE id = %s",
            [later.id],
        )
        self.env.invalidate_all()
        self.fan_out()
        self.assertFalse(event.fan_out_pending)
        self.assertEqual(event.delivery_ids.webhook_id, webhook | down)
        self.fan_out()
        self.assertEqual(len(event.delivery_ids), 2, "fanned out once")
