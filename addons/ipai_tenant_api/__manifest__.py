{
    "name": "IPAI Tenant API",
    "summary": "REST API of the ipai platform: tenant, plan and job routes, "
    "API keys, rate limits, idempotency and the OpenAPI document",
    "version": "18.0.1.0.0",
    "category": "SaaS/Platform",
    "author": "ipai",
    "website": "https://github.com/ipai/ipai",
    "license": "LGPL-3",
    "depends": ["ipai_tenant_data_safety"],
    "external_dependencies": {"python": ["psycopg2"]},
    "data": [
        "security/ipai_api_security.xml",
        "security/ir.model.access.csv",
        "wizards/ipai_api_key_generate_views.xml",
        "views/ipai_api_key_views.xml",
    ],
    "auto_install": True,
}
