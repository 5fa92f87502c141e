{
    "name": "IPAI Tenant Billing",
    "summary": "Subscriptions, trials, proration, monthly invoices in Odoo accounting, "
    "dunning and SaaS KPIs for the ipai platform",
    "version": "18.0.1.0.0",
    "category": "SaaS/Platform",
    "author": "ipai",
    "website": "https://github.com/ipai/ipai",
    "license": "LGPL-3",
    # ipai_tenant_data_safety: a tenant archived for not paying is backed up
    # first (its archive job's first step).
    "depends": ["ipai_tenant_data_safety", "ipai_platform_rules", "account", "mail"],
    "data": [
        "security/ipai_billing_security.xml",
        "security/ir.model.access.csv",
        "data/ipai_billing_mail_templates.xml",
        "data/ipai_billing_cron.xml",
        "views/ipai_tenant_views.xml",
        "views/ipai_tenant_plan_views.xml",
        "views/ipai_billing_kpi_views.xml",
        "views/ipai_billing_run_views.xml",
        "views/res_config_settings_views.xml",
        "wizards/ipai_billing_dashboard_views.xml",
        "views/ipai_billing_menus.xml",
    ],
}
