from . import jobs, openapi, plans, tenants
