"""18.0.1.2.0: ipai_tenant_core keeps the registry (tenants, plans, servers,
roles, audit); the REST API left for ipai_tenant_api, and the engine (jobs,
templates, warm pool, usage, backups, restores, fleet upgrades, routing) for
ipai_tenant_engine.

Their models, the fields they add to tenants, and their views, menus, crons,
mail template, access rights and rules now belong to the new addons, which
this upgrade installs; tables and rows stay as they are."""

from odoo.addons.ipai_tenant_core.module_moves import move_to_module

API_MODELS = (
    "ipai.api.key",
    "ipai.api.rate.window",
    "ipai.api.idempotency",
    "ipai.api.key.generate",
)
ENGINE_MODELS = (
    "ipai.tenant.job",
    "ipai.tenant.job.step",
    "ipai.tenant.template",
    "ipai.tenant.pool.member",
    "ipai.tenant.metric",
    "ipai.tenant.routing",
    "ipai.tenant.backup",
    "ipai.tenant.restore",
    "ipai.tenant.upgrade.run",
    "ipai.tenant.upgrade.line",
    "ipai.tenant.upgrade.wizard",
    "ipai.tenant.change.plan",
    "ipai.tenant.clone",
)
ENGINE_TENANT_FIELDS = ("job_ids", "backup_ids", "job_count", "is_busy", "metric_ids")


def migrate(cr, version):
    if not version:
        return
    move_to_module(cr, "ipai_tenant_core", "ipai_tenant_api", API_MODELS)
    move_to_module(
        cr,
        "ipai_tenant_core",
        "ipai_tenant_engine",
        ENGINE_MODELS,
        fields=[("ipai.tenant", field) for field in ENGINE_TENANT_FIELDS],
    )
