"""18.0.1.1.0: backups, restores and fleet upgrades left the engine for
ipai_tenant_data_safety: their models, the fields and job types they add,
and their views, menus, crons, access rights and rules now belong to it,
which this upgrade installs; tables and rows stay as they are."""

from odoo.addons.ipai_tenant_core.module_moves import (
    DATA_SAFETY_FIELDS,
    DATA_SAFETY_MODELS,
    DATA_SAFETY_SELECTIONS,
    move_to_module,
)


def migrate(cr, version):
    if not version:
        return
    move_to_module(
        cr,
        "ipai_tenant_engine",
        "ipai_tenant_data_safety",
        DATA_SAFETY_MODELS,
        fields=DATA_SAFETY_FIELDS,
        selections=DATA_SAFETY_SELECTIONS,
    )
