from . import ipai_tenant_settings, ir_actions_report, ir_http, res_users
