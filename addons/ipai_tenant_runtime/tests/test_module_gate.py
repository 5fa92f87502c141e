"""The plan's module set: computed from manifests only, and held where
Odoo builds its module graph."""

from unittest import mock

import pytest
from odoo.addons.ipai_tenant_runtime import module_gate
from odoo.addons.ipai_tenant_runtime.tests.common import route_row, runtime, tenant_runtime


def test_the_allowed_set_holds_the_plans_modules_and_their_dependencies():
    allowed = module_gate.closure(frozenset({"sale"}))
    assert {"sale", "sales_team", "product", "base", "web", "mail"} <= allowed
    assert "stock" not in allowed
    assert "sale_stock" not in allowed, "a bridge needs all of its triggers"


def test_auto_install_bridges_come_with_all_their_triggers():
    allowed = module_gate.closure(frozenset({"sale", "stock_account"}))
    # sale_stock: auto_install, depends on sale and stock_account.
    assert {"stock", "stock_account", "sale_stock"} <= allowed


def test_a_name_not_on_the_addons_path_stays_for_odoo_to_refuse():
    assert module_gate.closure(frozenset({"no_such_module_xyz"})) >= {"no_such_module_xyz"}


def test_the_engines_list_gates_a_child_odoo_in_any_runtime(monkeypatch):
    monkeypatch.setenv(module_gate.ALLOWED_ENV, "crm,,")
    with runtime(None):
        allowed = module_gate.allowed_modules("odoo_anything")
    assert "crm" in allowed and "sale" not in allowed


def test_the_tenant_runtime_gates_tenants_by_their_route(monkeypatch):
    monkeypatch.delenv(module_gate.ALLOWED_ENV, raising=False)
    with tenant_runtime(route_row("acme.example.com", "odoo_acme", modules=["crm"])):
        allowed = module_gate.allowed_modules("odoo_acme")
        assert "crm" in allowed and "sale" not in allowed
        assert module_gate.allowed_modules("odoo_not_a_tenant") is None
    for mode in (None, "platform"):
        with runtime(mode):
            assert module_gate.allowed_modules("odoo_acme") is None


class _ModuleCursor:
    """ir_module_module as the gate's UPDATE sees it: ``marked`` are the
    names still only marked to install."""

    def __init__(self, marked):
        self.dbname = "odoo_acme"
        self.marked = marked
        self.executed = []

    def execute(self, query, params):
        self.executed.append((query, params))
        self._unmarked = [(name,) for name in params[0] if name in self.marked]

    def fetchall(self):
        return self._unmarked


@pytest.fixture
def crm_only(monkeypatch):
    monkeypatch.setenv(module_gate.ALLOWED_ENV, "crm")


def test_modules_outside_the_set_are_refused_and_their_marks_taken_back(crm_only):
    cr = _ModuleCursor(marked={"sale"})
    refused = module_gate.refuse_outside_plan(cr, ["crm", "sale", "stock", "base"])
    assert refused == {"sale", "stock"}
    [(query, params)] = cr.executed
    assert "SET state = 'uninstalled'" in query
    assert params == [["sale", "stock"]]


def test_nothing_is_written_when_all_modules_are_allowed(crm_only):
    cr = _ModuleCursor(marked=set())
    assert module_gate.refuse_outside_plan(cr, ["crm", "base", "mail"]) == set()
    assert cr.executed == []


def test_the_graph_receives_the_allowed_modules_only(crm_only):
    received = []

    def add_modules(graph, cr, module_list, force=None):
        received.append((graph, list(module_list), force))
        return len(module_list)

    gated = module_gate._gated_add_modules(add_modules)
    cr = _ModuleCursor(marked=set())
    assert gated("graph", cr, ["base", "crm", "sale"], force=["crm"]) == 2
    assert received == [("graph", ["base", "crm"], ["crm"])]


def test_without_a_gate_the_graph_gets_everything(monkeypatch):
    monkeypatch.delenv(module_gate.ALLOWED_ENV, raising=False)
    add_modules = mock.Mock(return_value="loaded")
    gated = module_gate._gated_add_modules(add_modules)
    cr = _ModuleCursor(marked=set())
    with runtime(None):
        assert gated("graph", cr, ["base", "sale"]) == "loaded"
    add_modules.assert_called_once_with("graph", cr, ["base", "sale"], None)
    assert cr.executed == []
