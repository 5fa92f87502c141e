"""Process-wide hooks, active as soon as Odoo imports this addon.

The addon is listed in ``server_wide_modules`` so these run before any
server thread or worker starts.
"""

from . import ast_guard, routing

ast_guard.install()
routing.install()
