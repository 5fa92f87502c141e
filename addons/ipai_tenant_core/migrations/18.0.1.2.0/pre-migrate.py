"""18.0.1.2.0: ipai_tenant_core keeps the registry (tenants, plans, servers,
roles, audit); the REST API left for ipai_tenant_api, the engine (jobs,
templates, warm pool, usage, routing) for ipai_tenant_engine, and backups,
restores and fleet upgrades for ipai_tenant_data_safety (which a database
upgraded from between the two moves gets from the engine's 18.0.1.1.0).

Their models, the fields they add to tenants, and their views, menus, crons,
mail template, access rights and rules now belong to the new addons, which
this upgrade installs; tables and rows stay as they are."""

from odoo.addons.ipai_tenant_core.module_moves import (
    DATA_SAFETY_FIELDS,
    DATA_SAFETY_MODELS,
    DATA_SAFETY_SELECTIONS,
    move_to_module,
)

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
    "ipai.tenant.change.plan",
    "ipai.tenant.clone",
)
ENGINE_TENANT_FIELDS = ("job_ids", "job_count", "is_busy", "metric_ids")


def migrate(cr, version):
    if not version:
        return
    move_to_module(cr, "ipai_tenant_core", "ipai_tenant_api", API_MODELS)
    # First: the job model's fields and selection values data safety adds,
    # before the job model goes to the engine with all that is left.
    move_to_module(
        cr,
        "ipai_tenant_core",
        "ipai_tenant_data_safety",
        DATA_SAFETY_MODELS,
        fields=DATA_SAFETY_FIELDS,
        selections=DATA_SAFETY_SELECTIONS,
    )
    move_to_module(
        cr,
        "ipai_tenant_core",
        "ipai_tenant_engine",
        ENGINE_MODELS,
        fields=[("ipai.tenant", field) for field in ENGINE_TENANT_FIELDS],
    )
