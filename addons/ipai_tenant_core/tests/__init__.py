from . import (
    test_audit_log,
    test_provisioning_engine,
    test_tenant_backup,
    test_tenant_code,
    test_tenant_hierarchy,
    test_tenant_lifecycle,
    test_tenant_plan,
    test_tenant_security,
    test_welcome_mail,
)
