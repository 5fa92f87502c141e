import logging

from odoo import api, fields, models

from ..notify import retry, signing, transport

_logger = logging.getLogger(__name__)

RETRY_BASE_PARAM = "ipai_tenant_notify.retry_base_seconds"
MAX_ATTEMPTS_PARAM = "ipai_tenant_notify.max_attempts"
DISABLE_MIN_ATTEMPTS_PARAM = "ipai_tenant_notify.disable_min_attempts"
DEFAULTS = {RETRY_BASE_PARAM: 30, MAX_ATTEMPTS_PARAM: 8, DISABLE_MIN_ATTEMPTS_PARAM: 10}
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


def setting(env, key):
    value = env["ir.config_parameter"].sudo().get_param(key)
    return int(value) if value else DEFAULTS[key]


class IpaiWebhookDelivery(models.Model):
    _name = "ipai.webhook.delivery"
    _description = "Webhook delivery"
    _order = "id desc"

    webhook_id = fields.Many2one("ipai.webhook", required=True, index=True, ondelete="cascade")
    event_id = fields.Many2one(
        "ipai.webhook.event", string="Event record", required=True, index=True, ondelete="cascade"
    )
    topic = fields.Char(related="event_id.topic", string="Event")
    event_uuid = fields.Char(related="event_id.uuid", string="Event id")
    tenant_id = fields.Many2one(related="event_id.tenant_id")
    state = fields.Selection(
        [(PENDING, "Pending"), (DELIVERED, "Delivered"), (FAILED, "Failed")],
        default=PENDING,
        required=True,
        index=True,
    )
    attempts = fields.Integer(string="Attempts made", readonly=True)
    next_attempt_at = fields.Datetime(index=True, readonly=True)
    last_status = fields.Integer(string="Last HTTP status", readonly=True)
    last_error = fields.Char(readonly=True)
    delivered_at = fields.Datetime(readonly=True)
    attempt_ids = fields.One2many("ipai.webhook.attempt", "delivery_id", string="Attempts")

    @api.model
    def _trigger_delivery(self, at=None):
        self.env.ref("ipai_tenant_notify.ir_cron_deliver_webhooks").sudo()._trigger(at=at)

    @api.model
    def _cron_deliver(self, limit=100):
        """Fan the recorded events out, then send what is due, each delivery
        under its row lock (a second cron worker skips it) and committed on
        its own: a crash loses at most the log line of the one in flight
        (its receiver may get it twice, which the event id lets it notice)."""
        return self._deliver_due(limit, commit=True)

    @api.model
    def _deliver_due(self, limit=100, commit=False):
        self.env["ipai.webhook.event"]._fan_out()
        if commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit
        done = 0
        while done < limit:
            # The query below reads what the ORM wrote for the last one.
            self.env.flush_all()
            self.env.cr.execute(
                """SELECT d.id FROM ipai_webhook_delivery d
                     JOIN ipai_webhook w ON w.id = d.webhook_id
                    WHERE d.state = %s AND d.next_attempt_at <= %s
                      AND w.active
                 ORDER BY d.next_attempt_at, d.id
                    LIMIT 1
                      FOR NO KEY UPDATE OF d SKIP LOCKED""",
                [PENDING, fields.Datetime.now()],
            )
            row = self.env.cr.fetchone()
            if not row:
                break
            self.browse(row[0])._attempt()
            done += 1
            if commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
        return done

    def _attempt(self):
        """One POST of this delivery, logged; then delivered, retried later
        (exponential backoff) or failed for good; the webhook disabled when
        most of its last hour failed."""
        self.ensure_one()
        webhook, event = self.webhook_id, self.event_id
        body = event._body_for(webhook)
        headers = {"X-Ipai-Event": event.topic, "X-Ipai-Delivery": str(self.id)}
        if webhook.kind == "webhook":
            headers.update(signing.headers(webhook._secret(), body))
        outcome = transport.post(webhook.url, body, headers, *webhook._outbound_rules())
        self.env["ipai.webhook.attempt"].create(
            {
                "delivery_id": self.id,
                "webhook_id": webhook.id,
                "success": outcome.ok,
                "status_code": outcome.status_code,
                "error": outcome.error,
                "duration_ms": outcome.duration_ms,
            }
        )
        attempts = self.attempts + 1
        values = {
            "attempts": attempts,
            "last_status": outcome.status_code,
            "last_error": outcome.error,
        }
        if outcome.ok:
            values.update(
                state=DELIVERED, delivered_at=fields.Datetime.now(), next_attempt_at=False
            )
        elif attempts >= setting(self.env, MAX_ATTEMPTS_PARAM):
            values.update(state=FAILED, next_attempt_at=False)
        else:
            delay = retry.next_delay(attempts, setting(self.env, RETRY_BASE_PARAM))
            values["next_attempt_at"] = fields.Datetime.now() + delay
            self._trigger_delivery(at=values["next_attempt_at"])
        self.write(values)
        if not outcome.ok:
            _logger.info("webhook %s: delivery %s failed: %s", webhook.id, self.id, outcome.error)
            since = fields.Datetime.subtract(fields.Datetime.now(), hours=1)
            total, failed = webhook._last_hour_counts(since)
            if retry.should_disable(total, failed, setting(self.env, DISABLE_MIN_ATTEMPTS_PARAM)):
                webhook._auto_disable(total, failed)

    def action_retry_now(self):
        """Send a failed or waiting delivery again at the next cron run."""
        self.webhook_id.check_access("write")
        self.sudo().filtered(lambda d: d.state != DELIVERED).write(
            {"state": PENDING, "next_attempt_at": fields.Datetime.now()}
        )
        self._trigger_delivery()
        return True


class IpaiWebhookAttempt(models.Model):
    """The delivery log: one line per HTTP call."""

    _name = "ipai.webhook.attempt"
    _description = "Webhook delivery attempt"
    _order = "id desc"

    delivery_id = fields.Many2one(
        "ipai.webhook.delivery", required=True, index=True, ondelete="cascade"
    )
    webhook_id = fields.Many2one("ipai.webhook", required=True, index=True, ondelete="cascade")
    topic = fields.Char(related="delivery_id.topic", string="Event")
    success = fields.Boolean(readonly=True)
    status_code = fields.Integer(string="HTTP status", readonly=True)
    error = fields.Char(readonly=True)
    duration_ms = fields.Integer(string="Duration (ms)", readonly=True)
