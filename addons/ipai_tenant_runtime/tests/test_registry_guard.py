"""A request drops its own database's registry, never another's."""

from unittest import mock

import pytest
from odoo.addons.ipai_tenant_runtime import patching, registry_guard
from odoo.exceptions import AccessError


def _in_request_on(dbname):
    return mock.patch.object(registry_guard, "_request_database", return_value=dbname)


def _registry_stand_in():
    class Registry:
        dropped = []

        @classmethod
        def delete(cls, db_name):
            cls.dropped.append(db_name)

        @classmethod
        def delete_all(cls):
            cls.dropped.append("*")

    patching.patch(Registry, "delete", registry_guard._guarded_delete)
    patching.patch(Registry, "delete_all", registry_guard._guarded_delete_all)
    return Registry


def test_a_request_may_drop_its_own_registry_only():
    Registry = _registry_stand_in()
    with _in_request_on("odoo_acme"):
        Registry.delete("odoo_acme")
        with pytest.raises(AccessError, match="odoo_acme cannot drop"):
            Registry.delete("odoo_beta")
        with pytest.raises(AccessError):
            Registry.delete_all()
    assert Registry.dropped == ["odoo_acme"]


def test_outside_a_request_odoo_drops_what_it_needs():
    Registry = _registry_stand_in()
    with _in_request_on(None):
        Registry.delete("odoo_beta")
        Registry.delete_all()
    assert Registry.dropped == ["odoo_beta", "*"]


def test_no_request_context_is_no_request():
    """Outside any HTTP request (a cron, a shell) there is no request db."""
    assert registry_guard._request_database() is None
