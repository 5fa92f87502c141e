from odoo import api, models
from odoo.addons.ipai_platform_rules import lifecycle

from . import ipai_webhook_topic as topics


class IpaiTenant(models.Model):
    _inherit = "ipai.tenant"

    @api.model_create_multi
    def create(self, vals_list):
        tenants = super().create(vals_list)
        for tenant in tenants:
            tenant._emit_webhook_event(topics.TENANT_CREATED)
        return tenants

    def write(self, vals):
        plans_before = {tenant.id: tenant.plan_id for tenant in self} if "plan_id" in vals else {}
        result = super().write(vals)
        for tenant in self:
            old_plan = plans_before.get(tenant.id)
            if old_plan is not None and old_plan != tenant.plan_id:
                tenant._emit_webhook_event(
                    topics.TENANT_PLAN_CHANGED,
                    {"previous_plan": old_plan.code or None},
                )
        return result

    def _set_state_from_engine(self, state):
        before = self.state
        result = super()._set_state_from_engine(state)
        topic = self._state_topic(before, state)
        if topic:
            self._emit_webhook_event(topic, {"previous_state": before})
        return result

    def _state_topic(self, before, after):
        """The event a state change is, if any. Activation and archiving
        are told apart from reactivation and dropping by the job that makes
        them (a failed tenant may become active again either way)."""
        if before == after:
            return None
        job_type = self._running_job_type()
        if after == lifecycle.ACTIVE:
            if before == lifecycle.SUSPENDED or job_type == "reactivate":
                return topics.TENANT_REACTIVATED
            return topics.TENANT_ACTIVATED
        if after == lifecycle.SUSPENDED:
            return topics.TENANT_SUSPENDED
        if after == lifecycle.ARCHIVED:
            return topics.TENANT_DROPPED if job_type == "drop" else topics.TENANT_ARCHIVED
        return None

    def _running_job_type(self):
        job = (
            self.env["ipai.tenant.job"]
            .sudo()
            .search([("tenant_id", "=", self.id), ("state", "=", "running")], limit=1)
        )
        return job.job_type or None

    def _emit_webhook_event(self, topic, data=None):
        self.ensure_one()
        self.env["ipai.webhook.event"].sudo()._emit(topic, self, data)

    def _webhook_view(self):
        """What an event tells about a tenant."""
        self.ensure_one()
        return {
            "code": self.code,
            "name": self.name,
            "type": self.tenant_type,
            "state": self.state,
            "plan": self.plan_id.code or None,
            "provider": self.parent_id.code or None,
            "url": self.url or None,
            "admin_email": self.admin_email or None,
        }
