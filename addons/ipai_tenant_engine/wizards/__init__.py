from . import (
    ipai_tenant_change_plan,
    ipai_tenant_clone,
    ipai_tenant_move_cell,
)
