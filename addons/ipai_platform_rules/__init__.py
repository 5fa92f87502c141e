"""The platform's rules in plain Python, written once: tenant codes and the
names derived from them, the tenant state machine, roles and their powers,
job states, and what the BI side (the tenant runtime's addon, the control
plane's workspace builder and Superset's own configuration) must agree on.

Nothing here imports Odoo: the control plane's addons, the tenant runtime,
the tenant-side addons and Superset's ``superset_config.py`` all read the
same modules (Superset by putting this folder on its Python path)."""
