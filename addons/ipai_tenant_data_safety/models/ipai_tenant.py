"""What data safety adds to a tenant: its backups, the action that backs it
up, the one that moves it to another database server, and a new tenant
made from a customer's own Odoo backup (forms, the REST API and the CLI
call them)."""

import secrets

from odoo import api, fields, models
from odoo.addons.ipai_platform_rules import lifecycle, roles
from odoo.addons.ipai_platform_rules.tenant_side import with_tenant_side
from odoo.addons.ipai_tenant_core.infra import pg
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError
from odoo.exceptions import AccessError, UserError, ValidationError

from ..provisioning import backups, imports, moves


class IpaiTenant(models.Model):
    _inherit = "ipai.tenant"

    backup_ids = fields.One2many("ipai.tenant.backup", "tenant_id", string="Backups")

    def action_backup(self):
        self._queue_jobs(
            roles.OPERATE, "backup", self.env._("Backing up"), params={"kind": "manual"}
        )
        return True

    @api.model
    def _import_odoo_backup(self, zip_path, values):
        """A new tenant (``values``: its fields, ``code`` at least) made from
        a customer's Odoo 18 backup zip at ``zip_path``. The file is checked
        against the new tenant's plan before anything is kept (a refusal
        leaves no record, file or database), copied for the import job, and
        the job queued; returns the tenant."""
        problem = self._new_code_problem(values.get("code") or "")
        if problem:
            raise UserError(problem)
        backup_root = self.env["ipai.tenant.backup"]._backup_root()
        # The tenant is made in a savepoint, to judge the file by its plan
        # as created (defaults included); a refusal rolls it back.
        with self.env.cr.savepoint():
            tenant = self.create(values)
            allowed = imports.allowed_modules(with_tenant_side(tenant._allowed_module_names()))
            try:
                checked = imports.check(zip_path, allowed, tenant.plan_id._storage_bytes())
            except PermanentError as exc:  # the file, not the request's state
                raise ValidationError(str(exc)) from exc
            name = f"{tenant.code}-{secrets.token_hex(12)}.zip"
            path = imports.keep_upload(zip_path, backup_root, name)
            try:
                params = {"upload": name, "sha256": backups.sha256(path)}
                self.env["ipai.tenant.job"]._enqueue(tenant, "import", params)
                tenant._set_state_from_engine(lifecycle.PROVISIONING)
            except Exception:
                imports.remove_upload(backup_root, name)
                raise
        tenant._audit(
            "tenant:import",
            {"modules": (False, len(checked.modules)), "bytes": (False, checked.size_bytes)},
        )
        return tenant

    def action_move_to_server(self, server, grace_hours=None):
        """Queue a move of each tenant's database to ``server`` (a record,
        an id or a name); returns the estimate of each as text."""
        if not self._is_platform_manager():
            raise AccessError(self.env._("Only platform managers move tenants between servers."))
        if grace_hours is not None and float(grace_hours) < 0:
            raise UserError(self.env._("The grace period is a number of hours, 0 or more."))
        target = self._move_target(server)
        lines = []
        for tenant in self.sudo():
            problem = tenant._move_problem(target)
            if problem:
                raise UserError(problem)
            lines.append(tenant._move_estimate(target))
        params = {"server_id": target.id}
        if grace_hours is not None:
            params["grace_hours"] = float(grace_hours)
        for tenant in self:
            tenant._queue_jobs(
                roles.OPERATE,
                "move_server",
                self.env._("Moving"),
                params={**params, "source_server_id": tenant.sudo().server_id.id},
            )
        return "\n".join(lines)

    def _move_target(self, server):
        servers = self.env["ipai.tenant.server"].sudo()
        if isinstance(server, str):
            target = servers.search([("name", "=", server)], limit=1)
        else:
            target = servers.browse(int(server)).exists() if server else servers
        if not target:  # a value refused, as a bad field is
            raise ValidationError(self.env._("No such database server: %s.", server))
        return target

    def _move_problem(self, target):
        """Why this tenant may not move to ``target`` now, or None."""
        self.ensure_one()
        problem = lifecycle.action_problem("move_server", self.state, self.env._("Moving"))
        if problem:
            return self.env._("%(tenant)s: %(problem)s", tenant=self.code, problem=problem)
        if self.server_id == target:
            return self.env._(
                "%(tenant)s is on %(server)s already.", tenant=self.code, server=target.name
            )
        if not target._takes_moved(self):
            return self.env._(
                "%(server)s takes no tenant now (%(figures)s); nothing was queued.",
                server=target.name,
                figures=target._placement_summary(),
            )
        return None

    def _move_estimate(self, target):
        size = pg.database_size(self.server_id._pg_server(), self.database_name) or 0
        return self.env._(
            "%(tenant)s: %(size).1f MB from %(origin)s to %(target)s, in maintenance for about "
            "%(seconds).0f s",
            tenant=self.code,
            size=size / 1048576,
            origin=self.server_id.name,
            target=target.name,
            seconds=moves.estimate_seconds(size),
        )
