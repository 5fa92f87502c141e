"""18.0.1.2.0: the REST API left ipai_tenant_core for ipai_tenant_api.

Its models (API keys, rate windows, idempotency records, the key wizard) and
their views, menus, access rights and rules now belong to ipai_tenant_api,
which this upgrade installs; their tables and rows stay as they are."""

from odoo.addons.ipai_tenant_core.module_moves import move_to_module

API_MODELS = (
    "ipai.api.key",
    "ipai.api.rate.window",
    "ipai.api.idempotency",
    "ipai.api.key.generate",
)


def migrate(cr, version):
    if not version:
        return
    move_to_module(cr, "ipai_tenant_core", "ipai_tenant_api", API_MODELS)
