"""Sessions of the tenant runtime in a store every node shares.

A node keeps nothing a user needs on its own disk: a session made on one
node is read by any other, and survives the node. OCA ``session_db``
(loaded server-wide before this addon) keeps Odoo's sessions in a
PostgreSQL database it is given as ``SESSION_DB_URI``. The tenant runtime
gives it its own store: the database ``ipai_session_db`` (default
``ipai_sessions``), opened as the login role of the same name, whose
password derives from IPAI_RUNTIME_SECRET as every role's of this runtime
does (the control plane makes both, ``runtime_access.ensure_session_store``).
That role may connect to the store only: nothing it holds opens a tenant
database.

Binding a session to its tenant stays Odoo's and the router's: a request
reads the session of its cookie, and Odoo keeps it only when ``db_filter``
admits the session's database for the request's host, which the router
allows for that host's database alone; any other session is logged out
before the request runs. The store changes where a session is kept, not
where it is accepted.
"""

import logging
import os
from urllib.parse import quote

import odoo
from odoo.tools import config

from . import credentials, runtime_config

_logger = logging.getLogger(__name__)

URI_VARIABLE = "SESSION_DB_URI"


def store_uri():
    """The URI session_db opens: the store's database on the runtime's
    database server, as the store's own role."""
    name = runtime_config.session_store()
    password = quote(credentials.role_password(name), safe="")
    host = config.get("db_host") or ""
    port = config.get("db_port") or 5432
    return f"postgresql://{quote(name)}:{password}@{host}:{port}/{quote(name)}"


def install():
    """Point session_db at the shared store, unless the operator already did
    (SESSION_DB_URI in the environment wins). session_db reads it when a
    process first asks for its session store, after this has run."""
    if runtime_config.mode() != runtime_config.TENANT:
        return
    if "session_db" not in odoo.conf.server_wide_modules:
        _logger.warning(
            "session_db is not among server_wide_modules: sessions stay on this node's "
            "disk, and no other node of the runtime can use them"
        )
        return
    os.environ.setdefault(URI_VARIABLE, store_uri())
