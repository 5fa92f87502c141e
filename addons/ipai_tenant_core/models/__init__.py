from . import (
    ipai_audit_log,
    ipai_audited_mixin,
    ipai_guarded_defaults_mixin,
    ipai_input_mixin,
    ipai_tenant,
    ipai_tenant_assignment,
    ipai_tenant_domain,
    ipai_tenant_plan,
    ipai_tenant_secret,
    ipai_tenant_server,
    ir_config_parameter,
    res_users,
)
