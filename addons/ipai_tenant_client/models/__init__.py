from . import ipai_tenant_settings, ir_http, res_users
