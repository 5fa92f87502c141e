from . import (
    ipai_tenant_change_plan,
    ipai_tenant_clone,
    ipai_tenant_restore,
    ipai_tenant_upgrade,
)
