from . import test_tenant_settings
