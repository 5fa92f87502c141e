from . import (
    ipai_tenant_move_server,
    ipai_tenant_restore,
    ipai_tenant_upgrade,
)
