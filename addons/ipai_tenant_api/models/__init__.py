from . import ipai_tenant_api_key, ipai_tenant_api_usage
