"""The Superset service login at rest: its address and password sealed
together in a Fernet token under a key of this database's own, derived from
the tenant runtime's IPAI_RUNTIME_SECRET (ipai_tenant_runtime.credentials),
never the platform's IPAI_ENCRYPTION_KEY.

So the tenant side is no decryption oracle: a token planted in this
database's parameters opens only if it was made for this very database, and
nothing here can open the platform's credentials. And the password goes
only to the address it was sealed with: a tenant administrator who points
the ``superset_url`` parameter elsewhere moves the dashboards' browser
address at most, never the service login the runtime sends."""

from odoo.addons.ipai_tenant_runtime import credentials


class MissingKeyError(Exception):
    pass


def seal_login(dbname, url, password):
    try:
        return credentials.seal_for_database(dbname, url=url.rstrip("/"), password=password)
    except credentials.MissingRuntimeSecret as exc:
        raise MissingKeyError(str(exc)) from exc


def open_login(dbname, token):
    """(Superset address, service password) sealed in ``token``."""
    try:
        login = credentials.open_for_database(dbname, token)
    except credentials.MissingRuntimeSecret as exc:
        raise MissingKeyError(str(exc)) from exc
    if not login or not login.get("url") or not login.get("password"):
        raise MissingKeyError(
            "The stored Superset login was not sealed for this database "
            "(or predates sealed addresses): the platform pushes it again "
            "with the tenant's BI workspace (make superset-workspace CODE=...)."
        )
    return login["url"], login["password"]
