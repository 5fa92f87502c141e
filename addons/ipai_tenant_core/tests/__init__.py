from . import (
    test_audit_log,
    test_tenant_code,
    test_tenant_hierarchy,
    test_tenant_plan,
    test_tenant_security,
)
