{
    "name": "IPAI Platform Rules",
    "summary": "The platform's rules, ORM-free and written once: tenant names, "
    "states, roles and powers, job states, the BI contract",
    "version": "18.0.1.0.0",
    "category": "SaaS/Platform",
    "author": "ipai",
    "website": "https://github.com/ipai/ipai",
    "license": "LGPL-3",
    # No model, view or data: a Python package the other addons declare so
    # that Odoo loads (and the module gate allows) it wherever they are.
    "depends": ["base"],
}
