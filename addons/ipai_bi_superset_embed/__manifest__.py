{
    "name": "IPAI BI: embedded Superset dashboards",
    "summary": "Each tenant sees its own Apache Superset dashboards inside Odoo, "
    "filtered to its data by guest tokens with row-level security",
    "version": "18.0.1.0.0",
    "category": "Productivity/Dashboard",
    "author": "ipai",
    "website": "https://github.com/ipai/ipai",
    "license": "LGPL-3",
    "depends": ["base", "base_setup", "web", "ipai_platform_rules", "ipai_tenant_runtime"],
    "external_dependencies": {"python": ["cryptography", "urllib3"]},
    "data": [
        "security/ipai_bi_security.xml",
        "security/ir.model.access.csv",
        "views/ipai_bi_menus.xml",
        "views/ipai_bi_dashboard_views.xml",
        "views/res_config_settings_views.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "ipai_bi_superset_embed/static/lib/superset-embedded-sdk/index.js",
            "ipai_bi_superset_embed/static/src/**/*",
        ],
    },
}
