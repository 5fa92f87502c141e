import psycopg2
from odoo import api, fields, models
from odoo.addons.ipai_tenant_core.infra.errors import WaitingError

from ..provisioning import templates
from ..provisioning.spec import TemplateCatalog, TemplateSpec

TEMPLATE_PREFIX_PARAM = "ipai_tenant_core.template_prefix"


class IpaiTenantTemplate(models.Model):
    _name = "ipai.tenant.template"
    _description = "Tenant template database"
    _order = "id desc"
    _rec_name = "database_name"

    key = fields.Char(required=True, readonly=True, index=True)
    database_name = fields.Char(required=True, readonly=True)
    module_names = fields.Char(required=True, readonly=True, help="Comma-separated, sorted.")
    state = fields.Selection(
        [("new", "New"), ("ready", "Ready")],
        default="new",
        required=True,
        readonly=True,
    )
    size_mb = fields.Float(string="Size (MB)", readonly=True)
    built_at = fields.Datetime(readonly=True)

    _sql_constraints = [("key_unique", "unique(key)", "One template per module set.")]

    @api.model
    def _for_modules(self, module_names):
        """The template of ``module_names``; a new one is recorded in its own
        committed transaction, so that jobs asking for it at the same time
        see it at once and wait for its build (``_lock_for_build``) instead
        of blocking on an uncommitted row for the whole build."""
        key = templates.template_key(module_names)
        template = self.search([("key", "=", key)], limit=1)
        if template:
            return template
        prefix = (
            self.env["ir.config_parameter"].sudo().get_param(TEMPLATE_PREFIX_PARAM) or "ipai_tpl_"
        )
        values = {
            "key": key,
            "database_name": f"{prefix}{key}",
            "module_names": ",".join(sorted(module_names)),
        }
        try:
            with self.env.registry.cursor() as cr:
                self.with_env(self.env(cr=cr)).create(values)
        except psycopg2.IntegrityError as exc:
            raise WaitingError("another job is recording this template") from exc
        template = self.search([("key", "=", key)], limit=1)
        if not template:  # a REPEATABLE READ caller's snapshot predates it
            raise WaitingError("waiting for the new template's record")
        return template

    def _engine_spec(self):
        self.ensure_one()
        return TemplateSpec(
            id=self.id,
            database=self.database_name,
            state=self.state,
            modules=tuple(self._module_list()),
        )

    @api.model
    def _engine_catalog(self):
        """What a template build asks the platform mid-step (spec.py)."""
        return TemplateCatalog(
            for_modules=lambda modules: self._for_modules(modules)._engine_spec(),
            lock_for_build=lambda template_id: self.browse(template_id)._lock_for_build(),
        )

    def _module_list(self):
        return self.module_names.split(",")

    def _lock_for_build(self):
        """Hold this template's row while building it; a second job asking
        at the same time goes back to the queue until the build is done,
        without holding a runner thread or using up an attempt."""
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    "SELECT id FROM ipai_tenant_template WHERE id = %s FOR NO KEY UPDATE NOWAIT",
                    [self.id],
                )
        except psycopg2.errors.LockNotAvailable as exc:
            raise WaitingError(
                f"waiting for template {self.database_name}, which another job is building",
                retry_in=3,
            ) from exc

    def _mark_ready(self, size_bytes):
        self.write(
            {
                "state": "ready",
                "size_mb": size_bytes / 1024 / 1024,
                "built_at": fields.Datetime.now(),
            }
        )
