import re

from odoo import api, fields, models
from odoo.addons.ipai_platform_rules import jobs, lifecycle, naming
from odoo.addons.ipai_tenant_core.infra.errors import WaitingError
from odoo.addons.ipai_tenant_engine.provisioning import operations
from odoo.exceptions import AccessError, UserError
from odoo.modules import module as odoo_module

RUN_STATES = [("preparing", "Rebuilding templates"), ("running", "Running"), ("done", "Done")]
LINE_STATES = [
    ("pending", "Waiting"),
    ("running", "Upgrading"),
    ("upgraded", "Upgraded"),
    ("rolled_back", "Rolled back"),
    ("failed", "Failed"),
]
ENDED_LINE_STATES = ("upgraded", "rolled_back", "failed")
MODULE_NAME = re.compile(r"^[a-z0-9_]+$")


class IpaiTenantUpgradeRun(models.Model):
    """An upgrade of the fleet: templates first, then each tenant's own job
    (pre-upgrade backup, maintenance page, ``-u``, smoke check, back in
    service, or a restore of the backup when any of it failed), at most
    ``concurrency`` tenants at once. Platform managers only."""

    _name = "ipai.tenant.upgrade.run"
    _description = "Fleet upgrade"
    _order = "id desc"

    name = fields.Char(compute="_compute_name")
    modules = fields.Char(
        readonly=True, help="Comma-separated; empty: each tenant's whole module set."
    )
    concurrency = fields.Integer(default=2, readonly=True)
    state = fields.Selection(RUN_STATES, default="preparing", required=True, readonly=True)
    requested_by_id = fields.Many2one(
        "res.users", default=lambda self: self.env.user, readonly=True
    )
    line_ids = fields.One2many("ipai.tenant.upgrade.line", "run_id", string="Tenants")
    log = fields.Text(readonly=True)
    progress = fields.Float(compute="_compute_counts")
    upgraded_count = fields.Integer(compute="_compute_counts")
    rolled_back_count = fields.Integer(compute="_compute_counts")
    failed_count = fields.Integer(compute="_compute_counts")
    date_finished = fields.Datetime(readonly=True)

    def _compute_name(self):
        for run in self:
            run.name = self.env._("Upgrade %s", run.id)

    @api.depends("line_ids.state")
    def _compute_counts(self):
        for run in self:
            states = run.line_ids.mapped("state")
            ended = sum(1 for state in states if state in ENDED_LINE_STATES)
            run.progress = 100.0 * ended / len(states) if states else 100.0
            run.upgraded_count = states.count("upgraded")
            run.rolled_back_count = states.count("rolled_back")
            run.failed_count = states.count("failed")

    # -------------------------------------------------------------- start

    @api.model
    def _start(self, tenant_codes=None, modules=None, concurrency=2):
        """A new run over the active and suspended tenants (or those named),
        checked before anything is recorded."""
        if not self.env.user.has_group("ipai_tenant_core.group_platform_manager"):
            raise AccessError(self.env._("Only platform managers upgrade tenants."))
        modules = sorted({name.strip() for name in modules or [] if name.strip()})
        for name in modules:
            if not MODULE_NAME.match(name) or not odoo_module.get_manifest(name):
                raise UserError(self.env._("Module '%s' is not in the addons path.", name))
        if concurrency < 1:
            raise UserError(self.env._("Concurrency is at least 1."))
        domain = [("state", "in", (lifecycle.ACTIVE, lifecycle.SUSPENDED))]
        tenants = self.env["ipai.tenant"].search(domain, order="code")
        if tenant_codes:
            unknown = sorted(set(tenant_codes) - set(tenants.mapped("code")))
            if unknown:
                raise UserError(
                    self.env._("No active or suspended tenant with code %s.", ", ".join(unknown))
                )
            tenants = tenants.filtered(lambda tenant: tenant.code in tenant_codes)
        if not tenants:
            raise UserError(self.env._("There is no tenant to upgrade."))
        run = self.sudo().create(
            {
                "modules": ",".join(modules),
                "concurrency": concurrency,
                "requested_by_id": self.env.user.id,
                "line_ids": [
                    fields.Command.create({"tenant_id": tenant.id, "sequence": index})
                    for index, tenant in enumerate(tenants)
                ],
            }
        )
        self.env.ref("ipai_tenant_data_safety.ir_cron_advance_upgrade_runs").sudo()._trigger()
        return run

    # ------------------------------------------------------------ advance

    def _advance(self):
        """Move the run on: rebuild the templates (once), then keep up to
        ``concurrency`` tenants upgrading; called by the cron, the command
        line, and each tenant's job when it ends."""
        for run in self.sudo():
            if run.state == "preparing" and not run._prepare_templates():
                continue
            if run.state == "running":
                run._start_next_tenants()

    def _prepare_templates(self):
        """The template of each module set among the run's tenants, built
        from the code on disk when its key changed, so new signups get the
        upgraded code; False while another job is building one."""
        lines = []
        done = set()
        catalog = self.env["ipai.tenant.template"]._engine_catalog()
        for tenant in self.line_ids.tenant_id:
            modules = tuple(tenant._engine_module_set())
            if modules in done:
                continue
            done.add(modules)
            try:
                template, ready_size = operations.ensure_template_for(
                    catalog,
                    modules,
                    naming.template_owner_role(tenant._name_prefixes()[1]),
                    tenant._pg_server(),
                    lines.append,
                )
            except WaitingError as exc:
                self.log = "\n".join([*lines, str(exc)])
                return False
            if ready_size is not None:
                self.env["ipai.tenant.template"].browse(template.id)._mark_ready(ready_size)
            lines.append(f"{template.database}: {', '.join(modules)}")
        self.write({"state": "running", "log": "\n".join(lines)})
        return True

    def _start_next_tenants(self):
        running = self.line_ids.filtered(lambda line: line.state == "running")
        room = self.concurrency - len(running)
        modules = self.modules.split(",") if self.modules else []
        job_model = self.env["ipai.tenant.job"].with_user(self.requested_by_id).sudo()
        pending = self.line_ids.filtered(lambda line: line.state == "pending").sorted("sequence")
        busy = job_model.search(
            [("tenant_id", "in", pending.tenant_id.ids), ("state", "in", jobs.OPEN_STATES)]
        ).tenant_id
        for line in pending:
            if room <= 0:
                break
            tenant = line.tenant_id
            if tenant.state not in (lifecycle.ACTIVE, lifecycle.SUSPENDED):
                line.write({"state": "failed", "error": f"tenant is {tenant.state}; not upgraded"})
                continue
            if tenant in busy:
                continue  # its open job first; the next call comes back to it
            job = job_model._enqueue(tenant, "upgrade", {"modules": modules} if modules else {})
            job.upgrade_line_id = line
            line.write({"state": "running", "job_id": job.id})
            room -= 1
        if all(line.state in ENDED_LINE_STATES for line in self.line_ids):
            self.write({"state": "done", "date_finished": fields.Datetime.now()})

    @api.model
    def _cron_advance_upgrade_runs(self):
        runs = self.search([("state", "!=", "done")])
        runs._advance()
        return len(runs)

    def action_view_jobs(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Jobs"),
            "res_model": "ipai.tenant.job",
            "view_mode": "list,form",
            "domain": [("upgrade_line_id", "in", self.line_ids.ids)],
        }


class IpaiTenantUpgradeLine(models.Model):
    _name = "ipai.tenant.upgrade.line"
    _description = "Fleet upgrade: one tenant"
    _order = "run_id desc, sequence, id"

    run_id = fields.Many2one(
        "ipai.tenant.upgrade.run", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer()
    tenant_id = fields.Many2one("ipai.tenant", required=True, ondelete="cascade")
    state = fields.Selection(LINE_STATES, default="pending", required=True, readonly=True)
    job_id = fields.Many2one("ipai.tenant.job", readonly=True, ondelete="set null")
    backup_id = fields.Many2one("ipai.tenant.backup", related="job_id.backup_id")
    error = fields.Text(readonly=True)
    duration = fields.Float(related="job_id.duration", string="Duration (s)")

    def _engine_job_ended(self, job):
        if job.state == "done" and not job.rollback_error:
            values = {"state": "upgraded", "error": False}
        elif job.state == "done":
            values = {"state": "rolled_back", "error": job.rollback_error}
        else:  # the upgrade's own error too when its rollback failed
            values = {
                "state": "failed",
                "error": "\n\n".join(filter(None, [job.rollback_error, job.error])),
            }
        self.sudo().write(values)
        self.run_id._advance()
