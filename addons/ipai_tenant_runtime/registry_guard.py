"""A request may drop its own database's registry, never another's.

``Registry.delete`` and ``Registry.delete_all`` are class methods, reachable
from a server action as ``env.registry.delete(...)``: a tenant's admin could
evict every other tenant's registry from the worker it runs in, over and over
(each costs its tenant a reload of a fraction of a second, and the worker its
CPU). Odoo itself only drops the registry of the database it is working on
(a failed load, a database drop, which the runtimes never serve) or all of
them outside any request (a server reload), so during an HTTP request the
guard lets the request's own database through and refuses the rest.
"""

from odoo import http
from odoo.exceptions import AccessError
from odoo.modules.registry import Registry
from odoo.tools.translate import _

from . import patching


def _request_database():
    try:
        # A request not yet bound to a database has no ``db`` at all.
        return getattr(http.request, "db", None) if http.request else None
    except RuntimeError:  # outside any request context
        return None


def _check_may_drop(db_name):
    current = _request_database()
    if current and db_name != current:
        # A class method of the registry: no environment to translate with.
        message = _("A request on %s cannot drop another database's registry.", current)  # pylint: disable=prefer-env-translation
        raise AccessError(message)


def _guarded_delete(delete):
    def guarded_delete(cls, db_name):
        _check_may_drop(db_name)
        return delete(cls, db_name)

    return guarded_delete


def _guarded_delete_all(delete_all):
    def guarded_delete_all(cls):
        _check_may_drop(None)
        return delete_all(cls)

    return guarded_delete_all


def install():
    # Class methods: the patches wrap the functions underneath and stay
    # class methods.
    patching.patch(Registry, "delete", _guarded_delete)
    patching.patch(Registry, "delete_all", _guarded_delete_all)
