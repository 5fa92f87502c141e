import logging

from odoo import api, fields, models
from odoo.addons.ipai_platform_rules import lifecycle

from ..provisioning import runner, usage

_logger = logging.getLogger(__name__)

WARNING_RATIO = 0.9
# Usage is committed every BATCH tenants: a long collection that dies keeps
# what it read, and holds no transaction open over the whole fleet.
BATCH = 50


class IpaiTenantMetric(models.Model):
    _name = "ipai.tenant.metric"
    _description = "Tenant daily usage"
    _order = "date desc, tenant_id"

    tenant_id = fields.Many2one("ipai.tenant", required=True, ondelete="cascade", index=True)
    date = fields.Date(required=True, default=fields.Date.context_today, index=True)
    plan_id = fields.Many2one("ipai.tenant.plan")
    internal_users = fields.Integer(aggregator="max")
    companies = fields.Integer(aggregator="max")
    records_month = fields.Integer(string="Records this month", aggregator="max")
    db_size_mb = fields.Float(string="Database (MB)", aggregator="max", digits=(16, 1))
    filestore_mb = fields.Float(string="Files (MB)", aggregator="max", digits=(16, 1))
    storage_mb = fields.Float(
        string="Storage (MB)", compute="_compute_storage", store=True, aggregator="max"
    )
    tampering = fields.Char(
        readonly=True,
        help="What made this day's usage impossible to count truly (a view or a "
        "row-security policy in place of a table, an impossible count): the counts "
        "kept are the last true ones.",
    )

    _sql_constraints = [
        ("tenant_date_unique", "unique(tenant_id, date)", "One usage record per tenant and day.")
    ]

    @api.depends("db_size_mb", "filestore_mb")
    def _compute_storage(self):
        for metric in self:
            metric.storage_mb = metric.db_size_mb + metric.filestore_mb

    @api.model
    def _cron_collect_usage(self, limit=500):
        """Today's usage of every active tenant (rerunning a day updates it)."""
        tenants = self.env["ipai.tenant"].search(
            [("state", "in", (lifecycle.ACTIVE, lifecycle.SUSPENDED))],
            order="last_sync asc nulls first",
            limit=limit,
        )
        for done, tenant in enumerate(tenants, start=1):
            try:
                with self.env.cr.savepoint():
                    self._collect_for(tenant)
            except Exception:
                _logger.warning(
                    "usage of tenant %s could not be collected", tenant.code, exc_info=True
                )
            if done % BATCH == 0 or done == len(tenants):
                self.env["ir.cron"]._notify_progress(done=done, remaining=len(tenants) - done)
                runner.checkpoint(self.env.cr)
        return len(tenants)

    def _collect_for(self, tenant):
        today = fields.Date.context_today(self)
        try:
            values = usage.collect(
                tenant._pg_server(),
                tenant.database_name,
                tenant.runtime_role,
                tenant.sudo().cell_id.code or None,
            )
            values["tampering"] = False
        except usage.Tampering as exc:
            values = self._last_true_usage(tenant, today)
            values["tampering"] = str(exc)[:500]
            tenant._report_usage_tampering(str(exc))
        metric = self.search([("tenant_id", "=", tenant.id), ("date", "=", today)])
        values.update(plan_id=tenant.plan_id.id)
        if metric:
            metric.write(values)
        else:
            metric = self.create({"tenant_id": tenant.id, "date": today, **values})
        tenant.sudo().with_context(ipai_usage_sync=True).write(
            {
                "user_count": metric.internal_users,
                "storage_mb": metric.storage_mb,
                "last_sync": fields.Datetime.now(),
            }
        )
        if not metric.tampering:
            tenant._warn_near_limits(metric)
        return metric

    def _last_true_usage(self, tenant, today):
        """A tenant that hides its usage is not counted lower for it: the
        newest counts that were read truly (or what the platform last saw)."""
        last = self.search(
            [("tenant_id", "=", tenant.id), ("tampering", "=", False), ("date", "<=", today)],
            limit=1,
        )
        fields_kept = ("internal_users", "companies", "records_month", "db_size_mb", "filestore_mb")
        if last:
            return {name: last[name] for name in fields_kept}
        return dict.fromkeys(fields_kept, 0) | {"internal_users": tenant.user_count}

    def _near_limits(self):
        """(what, used, limit) for each plan limit this metric reaches 90 % of."""
        self.ensure_one()
        plan = self.plan_id or self.tenant_id.plan_id
        checks = [
            (self.env._("internal users"), self.internal_users, plan.max_users),
            (self.env._("companies"), self.companies, plan.max_companies),
            (self.env._("records this month"), self.records_month, plan.max_transactions_month),
            (self.env._("MB of storage"), round(self.storage_mb), plan.max_storage_gb * 1024),
        ]
        return [
            (what, used, limit)
            for what, used, limit in checks
            if limit and used >= WARNING_RATIO * limit
        ]
