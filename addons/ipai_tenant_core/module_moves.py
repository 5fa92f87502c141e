"""Moving models and records from one addon to another without losing a row.

When a model leaves ``ipai_tenant_core`` for an addon of its own, Odoo would
otherwise see the model's entries under the old name as gone at the end of
the upgrade and delete them, table and rows included. The old addon's
pre-migration hands them to the new addon (as OpenUpgrade's
``update_module_moved_models`` does) and marks the new addon for
installation, which Odoo does in the same run, after the addons it upgrades.
Plain Python on a cursor: migration scripts run before the registry is whole.
"""

import csv
import logging
from pathlib import Path

from lxml import etree
from odoo.modules.module import get_manifest, get_module_path

_logger = logging.getLogger(__name__)

XML_RECORD_TAGS = ("record", "menuitem", "template")


# What data safety (ipai_tenant_data_safety) took from the engine, which
# had taken it from ipai_tenant_core: the models, the fields it adds to
# tenants and jobs, and the job types it adds (selection values).
DATA_SAFETY_MODELS = (
    "ipai.tenant.backup",
    "ipai.tenant.restore",
    "ipai.tenant.upgrade.run",
    "ipai.tenant.upgrade.line",
    "ipai.tenant.upgrade.wizard",
)
DATA_SAFETY_FIELDS = (
    ("ipai.tenant", "backup_ids"),
    ("ipai.tenant.job", "backup_path"),
    ("ipai.tenant.job", "backup_id"),
    ("ipai.tenant.job", "resume_state"),
    ("ipai.tenant.job", "rollback_error"),
    ("ipai.tenant.job", "upgrade_line_id"),
)
DATA_SAFETY_SELECTIONS = (
    ("ipai.tenant.job", "job_type", "upgrade"),
    ("ipai.tenant.job", "job_type", "backup"),
    ("ipai.tenant.job", "job_type", "restore"),
)


def move_to_module(cr, old, new, models, fields=(), selections=()):
    """Hand ``models`` (their model, field, selection and constraint entries),
    ``fields`` ((model, field) pairs the new addon adds to models that stay),
    ``selections`` ((model, field, value) the new addon adds to a selection
    that stays) and every record the new addon's data files declare from
    ``old`` to ``new``, and install ``new`` in this run if it is not
    installed."""
    _install_with_dependencies(cr, new)
    for model in models:
        _move_model(cr, old, new, model)
    names = [f"field_{model.replace('.', '_')}__{field}" for model, field in fields]
    names += [
        f"selection__{model.replace('.', '_')}__{field}__{value}"
        for model, field, value in selections
    ]
    if names:
        cr.execute(
            "UPDATE ir_model_data SET module = %s WHERE module = %s AND name IN %s",
            (new, old, tuple(names)),
        )
    names = declared_xmlids(new)
    if names:
        cr.execute(
            "UPDATE ir_model_data SET module = %s WHERE module = %s AND name IN %s",
            (new, old, tuple(names)),
        )
    _logger.info("moved %d models and %d records from %s to %s", len(models), len(names), old, new)


def _install_with_dependencies(cr, module):
    """Mark ``module`` and whatever it needs that is not installed for
    installation (Odoo's button_install, in SQL: the registry is not whole
    yet); the dependency rows are there, Odoo's update_list made them."""
    cr.execute(
        """WITH RECURSIVE needed(name) AS (
               SELECT %s::varchar
               UNION
               SELECT d.name FROM ir_module_module_dependency d
                 JOIN ir_module_module m ON m.id = d.module_id
                 JOIN needed ON needed.name = m.name
           )
           UPDATE ir_module_module SET state = 'to install'
            WHERE name IN (SELECT name FROM needed) AND state = 'uninstalled'""",
        (module,),
    )


def _move_model(cr, old, new, model):
    table = model.replace(".", "_")
    cr.execute(
        "UPDATE ir_model_data SET module = %s "
        "WHERE module = %s AND model = 'ir.model' AND name = %s",
        (new, old, f"model_{table}"),
    )
    for prefix in (f"field_{table}__", f"selection__{table}__"):
        cr.execute(
            "UPDATE ir_model_data SET module = %s "
            "WHERE module = %s AND left(name, length(%s)) = %s",
            (new, old, prefix, prefix),
        )
    # SQL constraints and many2many tables are owned by a module in their
    # own tables too: the owner is the one that drops them on uninstall.
    for owned, owned_model in (
        ("ir_model_constraint", "ir.model.constraint"),
        ("ir_model_relation", "ir.model.relation"),
    ):
        cr.execute(
            f"""UPDATE ir_model_data d SET module = %(new)s
                  FROM {owned} o JOIN ir_model m ON m.id = o.model
                 WHERE d.module = %(old)s AND d.model = %(owned_model)s
                   AND d.res_id = o.id AND m.model = %(model)s""",
            {"new": new, "old": old, "owned_model": owned_model, "model": model},
        )
        cr.execute(
            f"""UPDATE {owned} o SET module = (SELECT id FROM ir_module_module WHERE name = %(new)s)
                  FROM ir_model m
                 WHERE o.model = m.id AND m.model = %(model)s
                   AND o.module = (SELECT id FROM ir_module_module WHERE name = %(old)s)""",
            {"new": new, "old": old, "model": model},
        )


def declared_xmlids(module):
    """The unqualified ids the data files of ``module`` declare."""
    path = Path(get_module_path(module))
    names = set()
    for data_file in get_manifest(module).get("data", []):
        file = path / data_file
        if file.suffix == ".csv":
            with file.open(newline="") as handle:
                names.update(row["id"] for row in csv.DictReader(handle) if "." not in row["id"])
        elif file.suffix == ".xml":
            tree = etree.parse(str(file))
            for element in tree.iter(*XML_RECORD_TAGS):
                xmlid = element.get("id")
                if xmlid and "." not in xmlid:
                    names.add(xmlid)
    return sorted(names)
