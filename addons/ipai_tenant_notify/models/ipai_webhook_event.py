import json
import uuid

from odoo import api, fields, models


class IpaiWebhookEvent(models.Model):
    """The outbox: an event is written in the transaction of the change it
    tells about, and only the event (one row: the change stays quick); the
    delivery cron, woken by the commit, fans it out to one delivery per
    subscribed webhook and sends them. A rolled-back change sends nothing,
    a committed one is sent even if the process dies right after (the
    cron's interval finds what its wake-up missed)."""

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
    fan_out_pending = fields.Boolean(
        readonly=True, copy=False, help="Recorded; its deliveries are not made yet."
    )

    _sql_constraints = [("uuid_unique", "unique(uuid)", "An event id is unique.")]

    def init(self):
        # The delivery cron looks for the few events not fanned out yet
        # among all that ever were.
        self.env.cr.execute(
            """CREATE INDEX IF NOT EXISTS ipai_webhook_event_fan_out_pending_idx
                   ON ipai_webhook_event (id) WHERE fan_out_pending"""
        )

    @api.model
    def _emit(self, topic, tenant, data=None, summary=None):
        """Record ``topic`` about ``tenant``, as it is now, for the delivery
        cron to fan out (``_fan_out``) to the webhooks subscribed to it.
        Nothing is recorded while no webhook is active."""
        if not self.env["ipai.webhook"].sudo().search_count([], limit=1):
            return self.browse()
        event = self.sudo()._create_event(topic, tenant, data, summary, fan_out_pending=True)
        self.env["ipai.webhook.delivery"]._trigger_delivery()
        return event

    @api.model
    def _fan_out(self, limit=500):
        """One delivery per webhook subscribed to each recorded event, as
        the webhooks were when it happened (``ipai.webhook._subscribed``);
        events another worker is fanning out are skipped. Returns how many
        events were fanned out."""
        self.flush_model()
        self.env.cr.execute(
            """SELECT id FROM ipai_webhook_event WHERE fan_out_pending
             ORDER BY id LIMIT %s FOR NO KEY UPDATE SKIP LOCKED""",
            [limit],
        )
        events = self.sudo().browse(row[0] for row in self.env.cr.fetchall())
        webhooks = self.env["ipai.webhook"]
        for event in events:
            event._queue_for(webhooks._subscribed(event.topic, event.tenant_id, event.create_date))
        events.fan_out_pending = False
        return len(events)

    @api.model
    def _create_event(self, topic, tenant, data=None, summary=None, fan_out_pending=False):
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
                "fan_out_pending": fan_out_pending,
            }
        )

    def _summary(self, topic, tenant):
        if not tenant:
            return topic
        return f"{topic}: {tenant.name} ({tenant.code}), {tenant.state}, {tenant.url}"

    def _queue_for(self, webhooks):
        self.ensure_one()
        if not webhooks:
            return
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
