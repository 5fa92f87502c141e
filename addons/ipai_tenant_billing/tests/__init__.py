from . import (
    test_billing_math,
    test_dunning,
    test_invoicing,
    test_kpis,
    test_plan_change,
    test_trials,
)
