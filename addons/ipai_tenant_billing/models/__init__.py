from . import ipai_tenant_plan
from . import ipai_tenant_plan_change
from . import ipai_tenant_suspension
from . import ipai_tenant
from . import account_move
from . import ipai_billing_run
from . import ipai_billing_kpi
from . import res_config_settings
