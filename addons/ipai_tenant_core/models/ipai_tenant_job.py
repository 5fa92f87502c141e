from odoo import api, fields, models
from odoo.exceptions import UserError

JOB_TYPES = [
    ("create", "Create"),
    ("clone", "Clone"),
    ("suspend", "Suspend"),
    ("reactivate", "Reactivate"),
    ("archive", "Archive"),
    ("drop", "Drop"),
    ("change_plan", "Change plan"),
    ("upgrade", "Upgrade modules"),
    ("backup", "Backup"),
]
JOB_STATES = [
    ("queued", "Queued"),
    ("running", "Running"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
]
OPEN_STATES = ("queued", "running")


class IpaiTenantJob(models.Model):
    _name = "ipai.tenant.job"
    _description = "Tenant provisioning job"
    _order = "id desc"

    name = fields.Char(compute="_compute_name", store=True)
    tenant_id = fields.Many2one("ipai.tenant", required=True, ondelete="cascade", index=True)
    job_type = fields.Selection(JOB_TYPES, string="Type", required=True)
    state = fields.Selection(JOB_STATES, default="queued", required=True, index=True)
    requested_by_id = fields.Many2one(
        "res.users", default=lambda self: self.env.user, readonly=True
    )
    params = fields.Json(help="Operation parameters, e.g. the source tenant of a clone.")
    error = fields.Text(readonly=True)
    date_started = fields.Datetime(readonly=True)
    date_finished = fields.Datetime(readonly=True)

    # At most one open job per tenant, enforced by PostgreSQL itself so two
    # concurrent requests cannot both slip through.
    def init(self):
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS ipai_tenant_job_one_open_per_tenant
                ON ipai_tenant_job (tenant_id) WHERE state IN ('queued', 'running')
            """
        )

    @api.depends("job_type", "tenant_id.code")
    def _compute_name(self):
        labels = dict(JOB_TYPES)
        for job in self:
            job.name = f"{labels.get(job.job_type, '')} {job.tenant_id.code or ''}".strip()

    @api.model
    def _enqueue(self, tenant, job_type, params=None):
        """Queue ``job_type`` for ``tenant``, refusing a second open job."""
        open_job = self.search(
            [("tenant_id", "=", tenant.id), ("state", "in", OPEN_STATES)], limit=1
        )
        if open_job:
            raise UserError(
                self.env._(
                    "Tenant %(tenant)s already has an open job (%(job)s, %(state)s); "
                    "wait for it to finish.",
                    tenant=tenant.code,
                    job=open_job.name,
                    state=dict(JOB_STATES)[open_job.state],
                )
            )
        job = self.create({"tenant_id": tenant.id, "job_type": job_type, "params": params or {}})
        tenant._audit(f"job:{job_type}", {"job": (False, job.id)})
        return job
