from . import ipai_api_key_generate, ipai_tenant_change_plan, ipai_tenant_clone
