from . import (
    ipai_tenant,
    ipai_tenant_backup,
    ipai_tenant_job,
    ipai_tenant_moved_source,
    ipai_tenant_server,
    ipai_tenant_upgrade_run,
)
