from . import (
    ipai_tenant,
    ipai_tenant_backup,
    ipai_tenant_job,
    ipai_tenant_upgrade_run,
)
