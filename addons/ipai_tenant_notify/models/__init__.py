from . import (
    ipai_tenant,
    ipai_tenant_job,
    ipai_webhook,
    ipai_webhook_delivery,
    ipai_webhook_event,
    ipai_webhook_topic,
)
