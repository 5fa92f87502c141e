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
where it is accepted. Two things session_db 18.0 does that Odoo's own
store does not are mended here: its session ids are whole in each
tenant's device log, and its device revokes read identifiers as LIKE
patterns across every tenant's sessions.
"""

import logging
import os
from urllib.parse import quote

import odoo
from odoo import http
from odoo.tools import config
from odoo.tools._vendor import sessions

from . import credentials, patching, runtime_config

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


def literal_prefix(identifier):
    """A LIKE pattern for the session ids that start with ``identifier``,
    every character of it taken literally."""
    return identifier.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _is_identifier(identifier):
    return bool(
        http._session_identifier_re.match(identifier) or sessions._sha1_re.match(identifier)
    )


# session_db keeps the session ids of werkzeug's store: 40 hex digits. Odoo
# 18 logs each session's device under the first 42 characters of its id
# (res.device.log, which a tenant's admin reads for every user, and which
# backups and clones with data carry): with 40-character ids, the whole id,
# enough to take over any user's session. Odoo's own ids are 84 characters,
# half of which never leave the store; these two give session_db Odoo's.
def _odoo_session_key(_original):
    def generate_key(self, salt=None):
        return http.FilesystemSessionStore.generate_key(self, salt)

    return generate_key


def _odoo_session_key_check(_original):
    def is_valid_key(self, key):
        return http.FilesystemSessionStore.is_valid_key(self, key)

    return is_valid_key


# session_db finds the sessions of a device log with ``sid LIKE
# identifier || '%'``, and Odoo's session ids are URL-safe base64, where "_"
# is common: LIKE reads it as any character. In one store shared by every
# tenant, "_" * 42 planted by a tenant's admin in its own device log and
# revoked (res.device._revoke) would log out every user of every tenant.
# These two take each identifier literally. Like the two above, they replace
# session_db's methods instead of calling them: no argument changes what
# those do.
def _literal_identifier_lookups(store_module):
    """session_db's delete_from_identifiers and
    get_missing_session_identifiers, each identifier taken literally."""

    @store_module.with_lock
    @store_module.with_cursor
    def delete_from_identifiers(self, identifiers):
        for identifier in filter(_is_identifier, identifiers):
            self._cr.execute(
                "DELETE FROM http_sessions WHERE sid LIKE %s", [literal_prefix(identifier)]
            )

    @store_module.with_lock
    @store_module.with_cursor
    def get_missing_session_identifiers(self, identifiers):
        missing = set()
        for identifier in identifiers:
            self._cr.execute(
                "SELECT 1 FROM http_sessions WHERE sid LIKE %s LIMIT 1",
                [literal_prefix(identifier)],
            )
            if not self._cr.fetchone():
                missing.add(identifier)
        return missing

    return delete_from_identifiers, get_missing_session_identifiers


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
    from odoo.addons.session_db import pg_session_store as module

    store = module.PGSessionStore
    patching.patch(store, "generate_key", _odoo_session_key)
    patching.patch(store, "is_valid_key", _odoo_session_key_check)
    delete, missing = _literal_identifier_lookups(module)
    patching.patch(store, "delete_from_identifiers", lambda _original: delete)
    patching.patch(store, "get_missing_session_identifiers", lambda _original: missing)
