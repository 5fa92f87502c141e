from . import (
    ipai_tenant,
    ipai_tenant_cell,
    ipai_tenant_job,
    ipai_tenant_metric,
    ipai_tenant_plan,
    ipai_tenant_pool,
    ipai_tenant_server,
    ipai_tenant_template,
)

# Last: Odoo creates each model's table, then runs its init(), in import
# order, and the routing view reads the tables above.
# isort: off
from . import ipai_tenant_routing
# isort: on
