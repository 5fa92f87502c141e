from odoo import fields, models

# The events a webhook may subscribe to (data/ipai_webhook_topic_data.xml).
TENANT_CREATED = "tenant.created"
TENANT_ACTIVATED = "tenant.activated"
TENANT_SUSPENDED = "tenant.suspended"
TENANT_REACTIVATED = "tenant.reactivated"
TENANT_PLAN_CHANGED = "tenant.plan_changed"
TENANT_ARCHIVED = "tenant.archived"
TENANT_DROPPED = "tenant.dropped"
JOB_FAILED = "job.failed"


class IpaiWebhookTopic(models.Model):
    _name = "ipai.webhook.topic"
    _description = "Webhook event type"
    _order = "sequence, code"

    code = fields.Char(required=True, readonly=True)
    name = fields.Char(required=True, translate=True)
    description = fields.Char(translate=True)
    sequence = fields.Integer(default=10)

    _sql_constraints = [("code_unique", "unique(code)", "An event type is listed once.")]
