from odoo import models

from . import ipai_webhook_topic as topics


class IpaiTenantJob(models.Model):
    _inherit = "ipai.tenant.job"

    def _engine_fail(self, message, undo_lines):
        result = super()._engine_fail(message, undo_lines)
        self.tenant_id._emit_webhook_event(
            topics.JOB_FAILED,
            {
                "job": {
                    "id": self.id,
                    "type": self.job_type,
                    "error": (self.error or "")[:1000],
                    "attempts": self.attempts,
                }
            },
        )
        return result
