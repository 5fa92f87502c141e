from . import ipai_status_incident, ipai_tenant_cell, ipai_tenant_uptime, status_report
