"""The JSON of each resource, written once for every route, in the shapes
declared in shapes.py (tests/test_serializers.py holds them to it)."""

from odoo import fields

from .api import url


def _datetime(value):
    return value.isoformat() + "Z" if value else None


def tenant_json(tenant):
    parent = tenant.parent_id
    return {
        "code": tenant.code,
        "name": tenant.name,
        "type": tenant.tenant_type,
        "state": tenant.state,
        # A provider's staff read their own provider but not its parent.
        "parent": parent.code if parent and parent.has_access("read") else None,
        "plan": tenant.plan_id.code,
        "url": tenant.url or None,
        "admin_email": tenant.admin_email or None,
        "country": tenant.country_id.code or None,
        "industry": tenant.industry or None,
        "trial_end": fields.Date.to_string(tenant.trial_end) if tenant.trial_end else None,
        "busy": tenant.is_busy,
        "domains": [
            {
                "name": domain.name,
                "verified": domain.verified,
                "verification_record": domain.verification_record,
            }
            for domain in tenant.domain_ids
        ],
        "links": {"self": url(f"/tenants/{tenant.code}")},
    }


def job_json(job):
    return {
        "id": job.id,
        "type": job.job_type,
        "state": job.state,
        "tenant": job.tenant_id.code,
        "progress": round(job.progress, 1),
        "current_step": job.current_step or None,
        "error": job.error or None,
        "attempts": job.attempts,
        "created_at": _datetime(job.create_date),
        "started_at": _datetime(job.date_started),
        "finished_at": _datetime(job.date_finished),
        "steps": [
            {
                "sequence": step.sequence,
                "name": step.name,
                "label": step.label,
                "state": step.state,
                "duration": step.duration or None,
            }
            for step in job.step_ids.sorted("sequence")
        ],
        "links": {"self": url(f"/jobs/{job.id}"), "tenant": url(f"/tenants/{job.tenant_id.code}")},
    }


def plan_json(plan):
    return {
        "code": plan.code,
        "name": plan.name,
        "currency": plan.currency_id.name,
        "price_monthly": plan.price_monthly,
        "price_annual": plan.price_annual,
        "trial_days": plan.trial_days,
        "limits": plan._limits(),
        "features": plan._features(),
    }


def backup_json(backup, exported):
    tenant = backup.tenant_id.code
    return {
        "id": backup.id,
        "tenant": tenant,
        "kind": backup.kind,
        "taken_at": _datetime(backup.backup_date),
        "size_mb": round(backup.size_mb, 1),
        "restore_test": backup.test_state,
        "exported": exported,
        "links": {"export": url(f"/tenants/{tenant}/backups/{backup.id}/export")},
    }


def accepted_json(tenant, job):
    """The answer of an action that queued a job: 202 and where to follow it."""
    return {"tenant": tenant_json(tenant), "job": job_json(job) if job else None}
