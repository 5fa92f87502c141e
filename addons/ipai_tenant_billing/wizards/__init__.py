from . import ipai_billing_dashboard
