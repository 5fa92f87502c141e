from . import (
    test_engine_security,
    test_provisioning_engine,
    test_tenant_lifecycle,
    test_tenant_roles,
    test_welcome_mail,
)
