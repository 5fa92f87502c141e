from . import backups, jobs, openapi, plans, tenants
