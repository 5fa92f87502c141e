{
    "name": "IPAI Tenant Engine",
    "summary": "The engine that makes one Odoo database per tenant: jobs, a "
    "runner, idempotent steps on a frozen spec, templates, a warm pool and usage",
    "version": "18.0.1.3.0",
    "category": "SaaS/Platform",
    "author": "ipai",
    "website": "https://github.com/ipai/ipai",
    "license": "LGPL-3",
    # ipai_tenant_runtime: the engine derives the runtime roles' passwords
    # and seals credentials with the runtime's own code (credentials.py).
    "depends": ["ipai_tenant_core", "ipai_tenant_runtime"],
    "external_dependencies": {"python": ["cryptography", "psycopg2", "requests"]},
    "data": [
        "security/ipai_engine_security.xml",
        "security/ir.model.access.csv",
        "data/ipai_tenant_cron.xml",
        "data/ipai_tenant_mail_templates.xml",
        "data/ipai_tenant_cell_data.xml",
        "wizards/ipai_tenant_change_plan_views.xml",
        "wizards/ipai_tenant_clone_views.xml",
        "wizards/ipai_tenant_move_cell_views.xml",
        "views/ipai_tenant_views.xml",
        "views/ipai_tenant_job_views.xml",
        "views/ipai_tenant_template_views.xml",
        "views/ipai_tenant_pool_views.xml",
        "views/ipai_tenant_cell_views.xml",
        "views/ipai_tenant_metric_views.xml",
        "views/ipai_engine_menus.xml",
    ],
    "assets": {
        "web.assets_backend": ["ipai_tenant_engine/static/src/live_refresh/*"],
    },
    "auto_install": True,
}
