"""The plan's module set, held where Odoo loads modules.

Buttons are not the only way to install a module: a tenant's admin can mark
one ``to install`` by SQL, write ``auto_install``, plant a row in
``ir_module_module_dependency``, then click the stock "apply scheduled
upgrades" (or wait for the platform's own ``make upgrade-tenants``). Every
path ends in Odoo's module graph, so the gate sits there: a module outside
the allowed set never enters the graph; a mark to install it is taken back.

The allowed set is the plan's modules and what their *manifests* depend on,
plus the auto-install modules their manifests trigger: nothing read from the
tenant's database, which its admin may rewrite. Where it comes from:

- the tenant runtime: the tenant's route (the platform's routing view);
- a child Odoo the engine starts for a tenant database (install, plan
  change, upgrade): ``IPAI_ALLOWED_MODULES``, set by the engine;
- anywhere else (the control plane, tests, plain Odoo): no gate.

Modules a plan change leaves installed are in the set too: the platform
records them (``ipai.tenant.kept_modules``) and the route carries them. A
module outside the set is not loaded, whatever its state says.
"""

import functools
import logging
import os

from odoo.modules import graph as module_graph
from odoo.modules.module import get_manifest, get_modules

from . import patching, runtime_config
from .routing_map import ROUTES

ALLOWED_ENV = "IPAI_ALLOWED_MODULES"
_logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=64)
def closure(names):
    """``names`` (a frozenset) with every module their manifests depend on,
    and every auto-install module whose manifest triggers are all in."""
    allowed = set()
    _add_with_dependencies(allowed, names)
    auto_install = {
        name: manifest["auto_install"]
        for name in get_modules()
        if (manifest := get_manifest(name)) and manifest.get("auto_install")
    }
    grown = True
    while grown:
        grown = False
        for name, triggers in auto_install.items():
            if name not in allowed and set(triggers) <= allowed:
                _add_with_dependencies(allowed, [name])
                grown = True
    return frozenset(allowed)


def _add_with_dependencies(allowed, names):
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in allowed:
            continue
        # A name not on the addons path stays allowed: Odoo itself refuses it
        # with its own error, as it would without the gate.
        allowed.add(name)
        manifest = get_manifest(name)
        todo.extend(manifest.get("depends", ()) if manifest else ())


def allowed_modules(dbname):
    """The modules ``dbname`` may install here, None when ungated."""
    listed = os.environ.get(ALLOWED_ENV)
    if listed is not None:
        return closure(frozenset(name for name in listed.split(",") if name))
    if runtime_config.mode() != runtime_config.TENANT:
        return None
    route = ROUTES.tenant(dbname)
    return closure(frozenset(route.modules)) if route else None


def refuse_outside_plan(cr, names):
    """Of ``names``, those outside the allowed set, which are not loaded:
    a mark to install one is taken back; one marked installed (only SQL can
    do that: the platform installs nothing outside the set, and records what
    a plan change leaves behind) stays marked but never loads, so neither its
    code runs nor a ``-u`` creates its tables."""
    allowed = allowed_modules(cr.dbname)
    outside = sorted(set(names) - allowed) if allowed is not None else []
    if not outside:
        return set()
    cr.execute(
        """UPDATE ir_module_module SET state = 'uninstalled'
            WHERE name = ANY(%s)
              AND (state = 'to install' OR (state = 'to upgrade' AND latest_version IS NULL))
        RETURNING name""",
        [outside],
    )
    unmarked = sorted(name for (name,) in cr.fetchall())
    if unmarked:
        _logger.warning("%s: not installing %s, outside the plan's module set", cr.dbname, unmarked)
    marked = sorted(set(outside) - set(unmarked))
    if marked:
        _logger.warning(
            "%s: not loading %s, marked installed outside the plan's module set",
            cr.dbname,
            marked,
        )
    return set(outside)


def _gated_add_modules(original):
    def add_modules(self, cr, module_list, force=None):
        refused = refuse_outside_plan(cr, module_list)
        return original(self, cr, [name for name in module_list if name not in refused], force)

    return add_modules


def install():
    # Every path to installing a module ends in the graph (module docstring).
    patching.patch(module_graph.Graph, "add_modules", _gated_add_modules)
