from . import ipai_tenant_staff_add
