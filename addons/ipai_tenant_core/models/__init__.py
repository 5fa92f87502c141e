from . import ipai_audit_log
from . import ipai_tenant_plan
from . import ipai_tenant_server
from . import ipai_tenant
from . import ipai_tenant_domain
from . import ipai_tenant_assignment
from . import ipai_tenant_job
from . import res_users
