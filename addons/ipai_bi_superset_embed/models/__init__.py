from . import ipai_bi_dashboard, res_config_settings
