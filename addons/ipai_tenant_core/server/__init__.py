"""Process-wide hooks, active as soon as Odoo imports this addon.

In production the addon is listed in ``server_wide_modules`` so these run
before any server thread starts.
"""

from . import ast_guard

ast_guard.install()
