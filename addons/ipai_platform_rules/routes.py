"""The routing view's contract: the columns a cell's nodes read of each
route (``ipai_cell_routing``), after its host name. The control plane's view
is built from this list and the runtime's tests fake the view with it.
"""

# In the order of the warm-pool rows' positional SELECT in the view
# (ipai_tenant_engine/models/ipai_tenant_routing.py).
ROUTE_COLUMNS = (
    "database_name",
    "state",
    "tenant_role",
    "db_host",
    "db_port",
    "plan_code",
    "plan_name",
    "max_users",
    "max_users_per_company",
    "max_companies",
    "modules",
    "feature_bi",
    "cell_code",
    "replica_host",
    "replica_port",
    "replica_max_lag",
    "max_mails_day",
    "feature_own_smtp",
    "database_alias",
)
