{
    "name": "IPAI Tenant Client",
    "summary": "Tenant side of the ipai platform: the tenant's plan and state "
    "pushed by the control plane, suspension, plan limits and the plan in the navbar",
    "version": "18.0.1.2.0",
    "category": "SaaS/Platform",
    "author": "ipai",
    "website": "https://github.com/ipai/ipai",
    "license": "LGPL-3",
    "depends": ["base", "web"],
    "data": [
        "views/ipai_suspended_page.xml",
        "views/ipai_login_layout.xml",
        "views/ipai_apps.xml",
    ],
    "assets": {
        "web.assets_backend": ["ipai_tenant_client/static/src/plan_systray/*"],
    },
}
