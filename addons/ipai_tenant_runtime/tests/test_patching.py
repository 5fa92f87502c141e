"""The one helper every patch of the runtime goes through, on stand-in
classes and on the real Odoo targets that ``post_load`` changes."""

import ast
import pathlib
import types

import pytest
from odoo import http, sql_db
from odoo.addons.base.controllers import rpc
from odoo.addons.base.models import ir_mail_server, ir_module, res_company, res_users
from odoo.addons.ipai_tenant_runtime import ast_guard, patching, post_load
from odoo.addons.ipai_tenant_runtime.tests.common import attributes_restored
from odoo.modules import graph as module_graph
from odoo.modules.registry import Registry
from odoo.service import server as odoo_server

ADDON = pathlib.Path(__file__).resolve().parent.parent


def _prefixing(original):
    def greet(self, name):
        return f"patched {original(self, name)}"

    return greet


def _make_target():
    class Base:
        def greet(self, name):
            return f"hello {name}"

        @classmethod
        def build(cls, value):
            return (cls.__name__, value)

        @staticmethod
        def double(value):
            return value * 2

    class Child(Base):
        pass

    return Base, Child


def test_a_patch_calls_the_original_and_the_original_stays_reachable():
    Base, _child = _make_target()
    unpatched = Base.greet
    replacement = patching.patch(Base, "greet", _prefixing)
    assert Base().greet("ann") == "patched hello ann"
    assert Base.greet is replacement
    assert patching.original(Base, "greet") is unpatched
    assert patching.applied(Base, "greet") == [f"{__name__}._prefixing"]


def test_patching_twice_wraps_once():
    Base, _child = _make_target()
    first = patching.patch(Base, "greet", _prefixing)
    second = patching.patch(Base, "greet", _prefixing)
    assert second is first
    assert Base().greet("ann") == "patched hello ann"
    assert len(patching.applied(Base, "greet")) == 1


def test_a_factory_of_a_reimported_module_counts_as_the_same_patch():
    """A module imported again makes new function objects; its patch is
    known by module and name, so it is not applied a second time."""
    Base, _child = _make_target()
    patching.patch(Base, "greet", _prefixing)
    copy = types.FunctionType(_prefixing.__code__, globals(), "_prefixing")
    copy.__qualname__ = _prefixing.__qualname__
    patching.patch(Base, "greet", copy)
    assert Base().greet("ann") == "patched hello ann"


def test_two_different_patches_stack_in_order():
    Base, _child = _make_target()

    def shouting(original):
        def greet(self, name):
            return original(self, name).upper()

        return greet

    patching.patch(Base, "greet", _prefixing)
    patching.patch(Base, "greet", shouting)
    assert Base().greet("ann") == "PATCHED HELLO ANN"
    assert patching.applied(Base, "greet") == [
        f"{__name__}.{shouting.__qualname__}",
        f"{__name__}._prefixing",
    ]
    assert patching.original(Base, "greet")(Base(), "ann") == "hello ann"


def test_a_class_method_stays_a_class_method():
    Base, Child = _make_target()

    def tagged(original):
        def build(cls, value):
            return ("tagged", *original(cls, value))

        return build

    unpatched = vars(Base)["build"].__func__
    patching.patch(Base, "build", tagged)
    assert isinstance(vars(Base)["build"], classmethod)
    assert Child.build(3) == ("tagged", "Child", 3)
    assert Base().build(4) == ("tagged", "Base", 4)
    assert patching.original(Base, "build") is unpatched


def test_a_static_method_stays_a_static_method():
    Base, _child = _make_target()

    def plus_one(original):
        def double(value):
            return original(value) + 1

        return double

    patching.patch(Base, "double", plus_one)
    assert isinstance(vars(Base)["double"], staticmethod)
    assert Base.double(3) == 7
    assert Base().double(3) == 7


def test_an_inherited_method_is_patched_on_the_subclass_only():
    Base, Child = _make_target()
    patching.patch(Child, "greet", _prefixing)
    assert "greet" in vars(Child)
    assert Child().greet("ann") == "patched hello ann"
    assert Base().greet("ann") == "hello ann"
    assert patching.applied(Base, "greet") == []
    assert patching.original(Child, "greet") is Base.greet


def test_a_module_function_is_patched_in_the_module():
    module = types.ModuleType("stand_in")
    module.answer = lambda: 41

    def plus_one(original):
        return lambda: original() + 1

    patching.patch(module, "answer", plus_one)
    patching.patch(module, "answer", plus_one)
    assert module.answer() == 42


def test_a_target_that_does_not_exist_fails_loudly():
    """An Odoo upgrade that renames a patched method stops the runtime at
    start-up instead of leaving a gate unapplied."""
    Base, _child = _make_target()
    with pytest.raises(AttributeError, match="greeting"):
        patching.patch(Base, "greeting", _prefixing)
    assert "greeting" not in vars(Base)


def _new_check(self):
    return "checked"


def test_add_sets_a_new_attribute_once_and_never_shadows_one():
    Base, _child = _make_target()
    assert patching.add(Base, "_ipai_check", _new_check) is _new_check
    assert patching.add(Base, "_ipai_check", _new_check) is _new_check
    assert Base()._ipai_check() == "checked"
    assert patching.original(Base, "_ipai_check") is None
    with pytest.raises(AttributeError, match="patch it instead"):
        patching.add(Base, "greet", _new_check)
    assert Base().greet("ann") == "hello ann"


# What post_load changes in Odoo, by owner, each by exactly one patch.
PATCHED = {
    sql_db: ("connection_info_for",),
    http: ("db_filter", "db_list", "dispatch_rpc"),
    rpc: ("dispatch_rpc",),
    http.Request: ("_serve_nodb", "_serve_db"),
    http.Application: ("__call__",),
    odoo_server.WorkerCron: ("_db_list",),
    odoo_server.ThreadedServer: ("cron_spawn",),
    odoo_server.WorkerHTTP: ("sleep",),
    module_graph.Graph: ("add_modules",),
    Registry: ("cursor", "delete", "delete_all"),
    ir_module.Module: ("button_install", "_button_immediate_function"),
    ir_mail_server.IrMailServer: ("_prepare_email_message", "connect", "test_smtp_connection"),
    ir_mail_server.SMTPConnection: ("__init__",),
    res_users.Users: ("_ipai_gate_user_limit",),
    res_company.Company: ("_ipai_gate_company_limit",),
}
ODOO_TARGETS = [(owner, name) for owner, names in PATCHED.items() for name in names]
if ast_guard._AFFECTED:
    ODOO_TARGETS.append((ast, "parse"))


def _applied_or_absent(owner, name):
    return patching.applied(owner, name) if hasattr(owner, name) else None


def test_post_load_run_twice_patches_each_target_once():
    before = {target: _applied_or_absent(*target) for target in ODOO_TARGETS}
    with attributes_restored(ODOO_TARGETS):
        post_load()
        first = {(owner, name): getattr(owner, name) for owner, name in ODOO_TARGETS}
        post_load()
        for owner, name in ODOO_TARGETS:
            assert getattr(owner, name) == first[owner, name], name
            stack = patching.applied(owner, name)
            assert len(stack) == 1, (owner, name, stack)
            assert stack[0].startswith("odoo.addons.ipai_tenant_runtime."), stack
        assert isinstance(vars(Registry)["delete"], classmethod)
        assert patching.original(odoo_server.WorkerHTTP, "sleep") is odoo_server.Worker.sleep
        assert patching.applied(odoo_server.Worker, "sleep") == []
    after = {target: _applied_or_absent(*target) for target in ODOO_TARGETS}
    assert after == before, "the test leaves Odoo as it found it"


def _assigned_attributes(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        else:
            continue
        while targets:
            target = targets.pop()
            if isinstance(target, (ast.Tuple, ast.List)):
                targets.extend(target.elts)
            elif isinstance(target, ast.Attribute):
                yield target


def test_no_patch_goes_around_the_helper():
    """Outside patching.py, the addon sets attributes of its own objects
    only (``self.x = ...``) and never calls setattr."""
    sources = sorted(
        path for path in ADDON.glob("*.py") if path.name not in ("patching.py", "__manifest__.py")
    )
    assert len(sources) > 10
    offending = []
    for path in sources:
        tree = ast.parse(path.read_text(), str(path))
        for target in _assigned_attributes(tree):
            if not (isinstance(target.value, ast.Name) and target.value.id == "self"):
                offending.append(f"{path.name}:{target.lineno} {ast.unparse(target)}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr":
                offending.append(f"{path.name}:{node.lineno} setattr")
    assert offending == []
