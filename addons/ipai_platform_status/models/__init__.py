from . import ipai_status_incident, ipai_tenant_cell, status_report
