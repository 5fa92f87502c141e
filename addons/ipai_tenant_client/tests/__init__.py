from . import test_plan_limits, test_report_rendering, test_tenant_settings
