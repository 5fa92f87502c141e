from . import test_tenant_code
from . import test_tenant_lifecycle
from . import test_tenant_hierarchy
from . import test_tenant_security
from . import test_audit_log
from . import test_tenant_plan
