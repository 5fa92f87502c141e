from . import test_billing_math
from . import test_trials
from . import test_plan_change
from . import test_invoicing
from . import test_dunning
from . import test_kpis
