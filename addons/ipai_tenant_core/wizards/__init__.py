from . import ipai_tenant_change_plan
from . import ipai_tenant_clone
