from . import (
    account_move,
    ipai_billing_kpi,
    ipai_billing_run,
    ipai_tenant,
    ipai_tenant_plan,
    ipai_tenant_plan_change,
    ipai_tenant_suspension,
    res_config_settings,
    res_partner,
    res_users,
)
