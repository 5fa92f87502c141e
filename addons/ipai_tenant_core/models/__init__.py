from . import (
    ipai_audit_log,
    ipai_audited_mixin,
    ipai_guarded_defaults_mixin,
    ipai_input_mixin,
    ipai_tenant,
    ipai_tenant_assignment,
    ipai_tenant_backup,
    ipai_tenant_domain,
    ipai_tenant_introspection,
    ipai_tenant_job,
    ipai_tenant_metric,
    ipai_tenant_plan,
    ipai_tenant_pool,
    ipai_tenant_secret,
    ipai_tenant_server,
    ipai_tenant_template,
    ipai_tenant_upgrade_run,
    ir_config_parameter,
    res_users,
)

# Last: Odoo creates each model's table, then runs its init(), in import
# order, and the routing view reads the tables above.
# isort: off
from . import ipai_tenant_routing
# isort: on
