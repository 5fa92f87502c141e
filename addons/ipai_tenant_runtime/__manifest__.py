{
    "name": "IPAI Tenant Runtime",
    "summary": "Server-wide code of both ipai runtimes: host routing, each tenant "
    "database served with its own PostgreSQL role, gates no tenant can lift",
    "version": "18.0.1.0.0",
    "category": "SaaS/Platform",
    "author": "ipai",
    "website": "https://github.com/ipai/ipai",
    "license": "LGPL-3",
    # Loaded by every Odoo process of the platform with server_wide_modules
    # (or --load), before any registry. It has no model or data: a database
    # "installs" it only as the declared dependency of an addon that imports
    # its code (the engine, the BI addon), which loads nothing new.
    "depends": ["base", "web", "ipai_platform_rules"],
    "external_dependencies": {"python": ["cryptography", "psycopg2"]},
    "post_load": "post_load",
}
