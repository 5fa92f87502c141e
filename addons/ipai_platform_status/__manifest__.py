{
    "name": "IPAI Platform Status",
    "summary": "A public status page on the platform host (the platform, each cell "
    "of tenant runtime nodes, each database server, the incidents staff post) and "
    "every active tenant probed every minute: its uptime and response time",
    "version": "18.0.1.0.0",
    "category": "SaaS/Platform",
    "author": "ipai",
    "website": "https://github.com/ipai/ipai",
    "license": "LGPL-3",
    "depends": ["ipai_tenant_engine"],
    "external_dependencies": {"python": ["requests"]},
    "data": [
        "security/ir.model.access.csv",
        "data/ipai_status_cron.xml",
        "views/ipai_status_incident_views.xml",
        "views/ipai_tenant_cell_views.xml",
        "views/ipai_tenant_uptime_views.xml",
        "views/status_page.xml",
    ],
    "auto_install": True,
}
