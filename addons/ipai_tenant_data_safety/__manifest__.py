{
    "name": "IPAI Tenant Data Safety",
    "summary": "Backups, restores, restore tests and fleet upgrades of the "
    "tenants' databases, on the engine's jobs",
    "version": "18.0.1.1.0",
    "category": "SaaS/Platform",
    "author": "ipai",
    "website": "https://github.com/ipai/ipai",
    "license": "LGPL-3",
    "depends": ["ipai_tenant_engine"],
    "external_dependencies": {"python": ["psycopg2", "requests"]},
    "data": [
        "security/ipai_data_safety_security.xml",
        "security/ir.model.access.csv",
        "data/ipai_data_safety_cron.xml",
        "views/ipai_tenant_backup_views.xml",
        "views/ipai_tenant_upgrade_views.xml",
        "views/ipai_tenant_views.xml",
        "views/ipai_tenant_move_views.xml",
        "views/ipai_data_safety_menus.xml",
    ],
    # Installing the platform gives the same product as before the split:
    # backups and an archive that backs up first.
    "auto_install": True,
}
