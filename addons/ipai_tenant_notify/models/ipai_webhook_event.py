import json
import uuid

from odoo import api, fields, models


class IpaiWebhookEvent(models.Model):
    """The outbox: an event is written in the transaction of the change it
    tells about, with one delivery per subscribed webhook; the delivery cron
    sends them after the commit. A rolled-back change sends nothing, a
    committed one is sent even if the process dies right after."""

    _name = "ipai.webhook.event"
    _description = "Webhook event"
    _order = "id desc"

    uuid = fields.Char(
        string="Event id",
        required=True,
        readonly=True,
        index=True,
        copy=False,
        default=lambda self: str(uuid.uuid4()),
    )
    topic = fields.Char(string="Event", required=True, readonly=True, index=True)
    tenant_id = fields.Many2one("ipai.tenant", readonly=True, index=True, ondelete="set null")
    payload = fields.Text(readonly=True, help="The JSON body sent to signed webhooks.")
    summary = fields.Char(readonly=True, help="The one line sent to Slack.")
    delivery_ids = fields.One2many("ipai.webhook.delivery", "event_id", string="Deliveries")

    _sql_constraints = [("uuid_unique", "unique(uuid)", "An event id is unique.")]

    @api.model
    def _emit(self, topic, tenant, data=None, summary=None):
        """Record ``topic`` about ``tenant`` and queue it for every webhook
        subscribed to it."""
        webhooks = self.env["ipai.webhook"]._subscribed(topic, tenant)
        if not webhooks:
            return self.browse()
        event = self.sudo()._create_event(topic, tenant, data, summary)
        event._queue_for(webhooks)
        self.env["ipai.webhook.delivery"]._trigger_delivery()
        return event

    @api.model
    def _create_event(self, topic, tenant, data=None, summary=None):
        event_id = str(uuid.uuid4())
        now = fields.Datetime.now()
        body = {
            "id": event_id,
            "type": topic,
            "created_at": now.isoformat() + "Z",
            "data": {"tenant": tenant._webhook_view() if tenant else None, **(data or {})},
        }
        return self.create(
            {
                "uuid": event_id,
                "topic": topic,
                "tenant_id": tenant.id if tenant else False,
                "payload": json.dumps(body, sort_keys=True),
                "summary": summary or self._summary(topic, tenant),
            }
        )

    def _summary(self, topic, tenant):
        if not tenant:
            return topic
        return f"{topic}: {tenant.name} ({tenant.code}), {tenant.state}, {tenant.url}"

    def _queue_for(self, webhooks):
        self.ensure_one()
        now = fields.Datetime.now()
        self.env["ipai.webhook.delivery"].sudo().create(
            [
                {"event_id": self.id, "webhook_id": webhook.id, "next_attempt_at": now}
                for webhook in webhooks
            ]
        )

    def _body_for(self, webhook):
        """The bytes POSTed: the event's JSON for a signed webhook, a Slack
        message for Slack."""
        if webhook.kind == "slack":
            return json.dumps({"text": self.summary}).encode()
        return self.payload.encode()
