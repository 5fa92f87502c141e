"""Cells: groups of tenant runtime nodes, each serving its own tenants.

A cell's nodes hold that cell's secret and nothing else secret; every name
a cell's nodes log in with comes from the cell's code, here, so that the
control plane (which makes the roles) and the nodes (which log in) agree.
The default cell keeps the names the single runtime had before cells
(``ipai_runtime``, ``ipai_sessions``): an existing deployment keeps working.
"""

import re

DEFAULT_CELL = "main"
# Short, lower case: it becomes part of PostgreSQL role and database names.
CODE_PATTERN = re.compile(r"^[a-z][a-z0-9]{0,15}$")
CODE_RULE = "a lower-case letter, then up to 15 lower-case letters or digits"

LEGACY_ROUTING_ROLE = "ipai_runtime"
LEGACY_SESSION_STORE = "ipai_sessions"


def code_problem(code):
    """Why ``code`` cannot name a cell, or None."""
    if not CODE_PATTERN.match(code or ""):
        return f"A cell code is {CODE_RULE}: {code!r} is not."
    return None


def routing_role(code):
    """The login role with which a cell's nodes read their own routes."""
    return LEGACY_ROUTING_ROLE if code == DEFAULT_CELL else f"{LEGACY_ROUTING_ROLE}_{code}"


def session_store(code):
    """The database of a cell's sessions, also its login role's name."""
    return LEGACY_SESSION_STORE if code == DEFAULT_CELL else f"{LEGACY_SESSION_STORE}_{code}"


def dedicated_code(tenant_code):
    """The code of the cell made for one tenant alone (a plan's dedicated
    cell): ``d`` and the tenant's code without what a cell code refuses,
    cut to the cell code's length."""
    cleaned = re.sub(r"[^a-z0-9]", "", (tenant_code or "").lower())
    return ("d" + cleaned)[:16]
