from . import test_tenant_backup
