"""Process-wide hooks, active as soon as Odoo imports this addon.

Listed in ``server_wide_modules`` of both runtimes: Odoo imports it and
calls ``post_load`` before any server thread, worker or registry exists.
Importing a submodule (the engine and the BI addon use ``credentials``)
changes nothing. What it does depends on the ``ipai_runtime`` option of the
Odoo configuration:

- ``platform``: the control plane; only the platform database is served,
  on the platform host names.
- ``tenant``: the tenant runtime; each tenant database is served on its own
  host names with its own PostgreSQL role, and the gates of ``gates.py``
  hold whatever the tenant's admin does inside its database.
  Sessions live in a store every node of the runtime shares
  (``session_store``).
- unset: plain Odoo (tests, module installs by the engine).

Read-only requests of a tenant go to its server's streaming replica while
it keeps up (``replicas``).

Attachments of a tenant live in its own bucket, opened with a key only
the runtime can unseal (``attachment_storage``).

Incoming mail reaches a tenant from its cell's mail gateway, signed
(``mail_gateway``: a route, served for active tenants only).

Every change to Odoo's own code goes through ``patching``: applied once,
however often ``post_load`` runs, and each patch calls what it replaces.
"""

from . import (
    ast_guard,
    attachment_storage,
    connections,
    gates,
    http_routing,
    mail_gateway,
    module_gate,
    preload,
    registry_cache,
    registry_guard,
    replicas,
    session_store,
    smtp_gate,
)


def post_load():
    ast_guard.install()
    module_gate.install()
    registry_guard.install()
    connections.install()
    replicas.install()
    http_routing.install()
    gates.install()
    smtp_gate.install()
    preload.install()
    registry_cache.install()
    session_store.install()
    attachment_storage.install()
