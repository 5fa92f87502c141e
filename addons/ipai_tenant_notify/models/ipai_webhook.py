from odoo import api, fields, models
from odoo.addons.ipai_tenant_core.infra import crypto
from odoo.exceptions import AccessError, UserError, ValidationError

from ..notify import outbound

OWNER_TYPES = ("platform_owner", "provider")
KINDS = [("webhook", "Signed webhook"), ("slack", "Slack incoming webhook")]
# Kept by the delivery code alone (see _check_protected_fields).
PROTECTED_FIELDS = frozenset({"secret_token", "secret_revealed", "disabled_reason", "disabled_at"})


class IpaiWebhook(models.Model):
    _name = "ipai.webhook"
    _description = "Webhook"
    _inherit = ["mail.thread"]
    _order = "owner_id, name"

    name = fields.Char(required=True, tracking=True)
    kind = fields.Selection(KINDS, required=True, default="webhook", tracking=True)
    owner_id = fields.Many2one(
        "ipai.tenant",
        required=True,
        index=True,
        ondelete="cascade",
        tracking=True,
        domain=[("tenant_type", "in", OWNER_TYPES)],
        default=lambda self: self._default_owner(),
        help="The platform owner (every tenant's events) or a provider (its own and its "
        "sub-tenants' events).",
    )
    url = fields.Char(
        string="URL",
        required=True,
        tracking=True,
        help="Where the events are POSTed (https in production). For Slack: the "
        "channel's incoming-webhook URL.",
    )
    topic_ids = fields.Many2many(
        "ipai.webhook.topic",
        string="Events",
        help="The events sent to this URL; none selected means all of them.",
    )
    active = fields.Boolean(default=True, tracking=True)
    # Fernet token of the signing secret: readable by nobody through the
    # ORM; shown once in clear (action_reveal_secret).
    secret_token = fields.Char(groups="base.group_system", copy=False)
    secret_revealed = fields.Boolean(readonly=True, copy=False)
    disabled_reason = fields.Char(readonly=True, copy=False)
    disabled_at = fields.Datetime(readonly=True, copy=False)
    delivery_ids = fields.One2many("ipai.webhook.delivery", "webhook_id", string="Deliveries")
    attempt_ids = fields.One2many("ipai.webhook.attempt", "webhook_id", string="Delivery log")
    failure_rate = fields.Float(
        string="Failures, last hour (%)", compute="_compute_failure_rate", digits=(5, 1)
    )
    pending_count = fields.Integer(compute="_compute_failure_rate")

    @api.model
    def _default_owner(self):
        user = self.env.user
        if user.has_group("ipai_tenant_core.group_platform_user"):
            return self.env["ipai.tenant"].search([("tenant_type", "=", "platform_owner")], limit=1)
        return user.ipai_managed_tenant_ids.filtered(lambda t: t.tenant_type in OWNER_TYPES)[:1]

    def _compute_failure_rate(self):
        since = fields.Datetime.subtract(fields.Datetime.now(), hours=1)
        for webhook in self:
            total, failed = webhook._last_hour_counts(since)
            webhook.failure_rate = 100.0 * failed / total if total else 0.0
            webhook.pending_count = self.env["ipai.webhook.delivery"].search_count(
                [("webhook_id", "=", webhook.id), ("state", "=", "pending")]
            )

    def _last_hour_counts(self, since):
        self.ensure_one()
        self.env["ipai.webhook.attempt"].flush_model()
        self.env.cr.execute(
            """SELECT count(*), count(*) FILTER (WHERE NOT success)
                 FROM ipai_webhook_attempt WHERE webhook_id = %s AND create_date >= %s""",
            [self.id, since],
        )
        return self.env.cr.fetchone()

    # -------------------------------------------------------------- checks

    @api.constrains("url", "kind")
    def _check_url(self):
        """The stored URL, whatever path wrote it, must lead to a public
        address (notify/outbound.py); checked again before every request."""
        rules = self._outbound_rules()
        for webhook in self:
            try:
                outbound.vet(webhook.url, *rules)
            except outbound.Unresolvable:
                continue  # judged when a request is sent, once its DNS exists
            except outbound.RefusedDestination as exc:
                raise ValidationError(str(exc)) from exc

    def _outbound_rules(self):
        """(allow list, refused host names) for outbound.vet: the operator's
        allowed hosts, and the platform's own host names."""
        params = self.env["ir.config_parameter"].sudo()
        allow_list = outbound.parse_allow_list(params.get_param(outbound.ALLOW_HOSTS_PARAM))
        own = {host.strip().lower() for host in self.env["ipai.tenant"]._platform_hosts()}
        return frozenset(allow_list), frozenset(own - {""})

    @api.constrains("owner_id")
    def _check_owner(self):
        for webhook in self:
            if webhook.owner_id.tenant_type not in OWNER_TYPES:
                raise ValidationError(
                    self.env._(
                        "%s is not a provider: only the platform and providers own webhooks.",
                        webhook.owner_id.display_name,
                    )
                )

    def _check_protected_fields(self, vals):
        if self.env.su:
            return
        touched = sorted(PROTECTED_FIELDS & set(vals))
        if touched:
            raise AccessError(
                self.env._(
                    "%s can only be set by the platform; use the webhook's buttons.",
                    ", ".join(self._fields[name].string for name in touched),
                )
            )

    # ---------------------------------------------------------------- CRUD

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_protected_fields(vals)
        webhooks = super().create(vals_list)
        for webhook in webhooks:
            webhook.sudo().secret_token = crypto.encrypt(crypto.new_password(32))
        return webhooks

    def write(self, vals):
        self._check_protected_fields(vals)
        if vals.get("active"):
            # Re-enabled by hand: the reason of an automatic disabling goes.
            self.sudo().write({"disabled_reason": False, "disabled_at": False})
        return super().write(vals)

    # ------------------------------------------------------------- actions

    def action_reveal_secret(self):
        """Show the signing secret, once: the row is flipped to revealed and
        read in one statement, so two clicks cannot both see it."""
        self.ensure_one()
        self.check_access("write")
        if self.kind != "webhook":
            raise UserError(self.env._("A Slack webhook is not signed: it has no secret."))
        self.flush_recordset()
        self.env.cr.execute(
            """UPDATE ipai_webhook SET secret_revealed = true
                WHERE id = %s AND NOT coalesce(secret_revealed, false)
            RETURNING secret_token""",
            [self.id],
        )
        row = self.env.cr.fetchone()
        self.invalidate_recordset(["secret_revealed"])
        if not row:
            raise UserError(self.env._("The secret was already shown; rotate it to get a new one."))
        self.message_post(body=self.env._("The signing secret was shown."))
        return self._notification(
            self.env._("Signing secret of %s", self.name),
            self.env._(
                "%s\nThis is the only time it is shown: store it in the receiver now.",
                crypto.decrypt(row[0]),
            ),
        )

    def action_rotate_secret(self):
        """A new secret, to be shown once; the old one stops at once."""
        self.check_access("write")
        for webhook in self:
            webhook.sudo().write(
                {"secret_token": crypto.encrypt(crypto.new_password(32)), "secret_revealed": False}
            )
            webhook.message_post(body=self.env._("The signing secret was rotated."))
        return True

    def action_send_test(self):
        """Queue a ``ping`` delivery of a sample event to this webhook only."""
        self.check_access("write")
        events = self.env["ipai.webhook.event"].sudo()
        for webhook in self:
            event = events._create_event("ping", self.env["ipai.tenant"], {"webhook": webhook.name})
            event._queue_for(webhook.sudo())
        self.env["ipai.webhook.delivery"]._trigger_delivery()
        return True

    def _secret(self):
        self.ensure_one()
        return crypto.decrypt(self.sudo().secret_token)

    def _notification(self, title, message):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": title, "message": message, "sticky": True, "type": "warning"},
        }

    # ------------------------------------------------------------ routing

    @api.model
    def _subscribed(self, topic, tenant, at=None):
        """Active webhooks that receive ``topic`` about ``tenant``: the
        platform's, and those of the providers above it (or of itself).
        With ``at`` (when the event happened), as they were then: one made
        later does not receive it, one disabled automatically since does
        (its deliveries wait for it to be enabled again)."""
        domain = [("active", "=", True)]
        if at:
            domain = [
                ("create_date", "<=", at),
                "|",
                ("active", "=", True),
                # disabled_at has whole seconds (fields.Datetime.now()).
                ("disabled_at", ">=", at.replace(microsecond=0)),
            ]
        webhooks = self.sudo().with_context(active_test=False).search(domain)
        lineage = set(tenant._ancestors().ids) | set(tenant.ids) if tenant else set()

        def receives(webhook):
            if webhook.topic_ids and topic not in webhook.topic_ids.mapped("code"):
                return False
            return (
                webhook.owner_id.tenant_type == "platform_owner" or webhook.owner_id.id in lineage
            )

        return webhooks.filtered(receives)

    def _auto_disable(self, total, failed):
        """Switched off after too many failures; its owner is told by mail."""
        self.ensure_one()
        reason = self.env._(
            "%(failed)s of %(total)s deliveries in the last hour failed", failed=failed, total=total
        )
        self.sudo().write(
            {"active": False, "disabled_reason": reason, "disabled_at": fields.Datetime.now()}
        )
        self.message_post(
            body=self.env._("Disabled automatically: %s.", reason), subtype_xmlid="mail.mt_note"
        )
        if self.owner_id.admin_email:
            self.env.ref("ipai_tenant_notify.mail_template_webhook_disabled").send_mail(self.id)
