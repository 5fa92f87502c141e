from . import test_plan_limits, test_tenant_settings
