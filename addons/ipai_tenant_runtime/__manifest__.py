{
    "name": "IPAI Tenant Runtime",
    "summary": "Server-wide code of both ipai runtimes: host routing, each tenant "
    "database served with its own PostgreSQL role, gates no tenant can lift",
    "version": "18.0.1.0.0",
    "category": "SaaS/Platform",
    "author": "ipai",
    "website": "https://github.com/ipai/ipai",
    "license": "LGPL-3",
    # Never installed in a database: loaded by every Odoo process of the
    # platform with server_wide_modules (or --load), before any registry.
    "depends": ["base", "web", "ipai_platform_rules"],
    "external_dependencies": {"python": ["cryptography", "psycopg2"]},
    "post_load": "post_load",
}
