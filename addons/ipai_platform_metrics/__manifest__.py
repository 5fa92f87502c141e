{
    "name": "IPAI Platform Metrics",
    "summary": "The control plane's health in Prometheus' format on /metrics: tenants, "
    "jobs and their queue, the warm pool, backup age, webhook deliveries, MRR",
    "version": "18.0.1.0.0",
    "category": "SaaS/Platform",
    "author": "ipai",
    "website": "https://github.com/ipai/ipai",
    "license": "LGPL-3",
    "depends": ["ipai_tenant_billing", "ipai_tenant_notify"],
    "external_dependencies": {"python": ["prometheus_client"]},
    "post_init_hook": "post_init_hook",
    # Installed with the platform's addons: a platform database has metrics.
    "auto_install": True,
}
