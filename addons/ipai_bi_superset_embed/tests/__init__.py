from . import test_ipai_bi_dashboard, test_superset_client
