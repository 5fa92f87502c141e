from . import ipai_tenant_server_replica, ipai_tenant_staff_add
