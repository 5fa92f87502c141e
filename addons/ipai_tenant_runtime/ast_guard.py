"""Serialise ``ast.parse`` across threads.

CPython 3.11.7 keeps the AST-to-Python conversion's recursion depth in
interpreter-wide state (gh-106905, fixed in 3.11.8 / 3.12.1). Two threads
building Python AST objects at once, e.g. two HTTP threads loading manifests
or post-processing views (``ast.literal_eval`` / ``ast.parse``), can trip
``SystemError: AST constructor recursion depth mismatch``. A process-wide lock
around ``ast.parse`` removes the race; parsing is fast, so contention is nil.
"""

import ast
import sys
import threading

from . import patching

_AFFECTED = sys.version_info[:2] == (3, 11) and sys.version_info < (3, 11, 8)
_lock = threading.RLock()


def _serialised_parse(unguarded_parse):
    def parse(*args, **kwargs):
        with _lock:
            return unguarded_parse(*args, **kwargs)

    return parse


def install():
    if not _AFFECTED:
        return
    # ast.literal_eval looks up ``parse`` in the ast module at call time, so
    # replacing the module attribute covers it as well.
    patching.patch(ast, "parse", _serialised_parse)
