{
    "name": "IPAI Tenant Notifications",
    "summary": "Signed outbound webhooks and Slack messages on tenant events, with "
    "retries, a delivery log and automatic disabling, for the ipai platform",
    "version": "18.0.1.1.0",
    "category": "SaaS/Platform",
    "author": "ipai",
    "website": "https://github.com/ipai/ipai",
    "license": "LGPL-3",
    "depends": ["ipai_tenant_engine", "ipai_platform_rules", "mail"],
    "data": [
        "security/ipai_notify_security.xml",
        "security/ir.model.access.csv",
        "data/ipai_webhook_topic_data.xml",
        "data/ipai_notify_mail_templates.xml",
        "data/ipai_notify_cron.xml",
        "views/ipai_webhook_views.xml",
    ],
}
