"""ast.parse serialised where CPython's AST conversion races (gh-106905)."""

import ast
import sys
import threading

from odoo.addons.ipai_tenant_runtime import ast_guard


def test_the_guard_is_on_exactly_for_the_affected_interpreters():
    affected = sys.version_info[:2] == (3, 11) and sys.version_info < (3, 11, 8)
    assert ast_guard._AFFECTED is affected


def test_a_guarded_parse_holds_the_lock_and_returns_the_tree():
    seen = []

    def parse(source, *args, **kwargs):
        seen.append(ast_guard._lock._is_owned())
        return ast.parse(source, *args, **kwargs)

    guarded = ast_guard._serialised_parse(parse)
    tree = guarded("x = [1, 2]", mode="exec")
    assert isinstance(tree, ast.Module)
    assert seen == [True]
    assert not ast_guard._lock._is_owned()


def test_parses_in_other_threads_wait_for_the_one_running():
    entered, release = threading.Event(), threading.Event()
    order = []

    def slow_parse(source):
        order.append(f"start {source}")
        entered.set()
        release.wait(5)
        order.append(f"end {source}")

    guarded = ast_guard._serialised_parse(slow_parse)
    first = threading.Thread(target=guarded, args=("a",))
    first.start()
    entered.wait(5)
    second = threading.Thread(target=guarded, args=("b",))
    second.start()
    second.join(0.2)
    assert second.is_alive(), "the second parse waits for the first"
    release.set()
    first.join(5)
    second.join(5)
    assert order == ["start a", "end a", "start b", "end b"]
