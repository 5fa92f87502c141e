"""What every tenant database gets whatever its plan, and how long the
welcome mail's link lasts: read by the engine, the routing view and the
mail template alike."""

# Loaded in every tenant database on top of its plan's modules.
TENANT_SIDE_MODULES = ("ipai_tenant_client", "ipai_bi_superset_embed")

# How long the welcome mail's set-password link works (Odoo's own reset
# links last 4 hours; a welcome mail may wait in an inbox over a weekend).
WELCOME_LINK_HOURS = 72


def with_tenant_side(module_names):
    """A tenant database's module set: ``module_names`` (its plan's, or what
    it may load) and the tenant-side modules, sorted."""
    return sorted(set(module_names) | set(TENANT_SIDE_MODULES))
