"""The Superset service password at rest: a Fernet token under a key of this
database's own, derived from the tenant runtime's IPAI_RUNTIME_SECRET
(ipai_tenant_runtime.credentials), never the platform's IPAI_ENCRYPTION_KEY.

So the tenant side is no decryption oracle: a token planted in this
database's parameters opens only if it was made for this very database, and
nothing here can open the platform's credentials."""

from odoo.addons.ipai_tenant_runtime import credentials


class MissingKeyError(Exception):
    pass


def encrypt(dbname, plaintext):
    try:
        return credentials.encrypt_for_database(dbname, plaintext)
    except credentials.MissingRuntimeSecret as exc:
        raise MissingKeyError(str(exc)) from exc


def decrypt(dbname, token):
    try:
        plaintext = credentials.decrypt_for_database(dbname, token)
    except credentials.MissingRuntimeSecret as exc:
        raise MissingKeyError(str(exc)) from exc
    if plaintext is None:
        raise MissingKeyError("The stored Superset password was not made for this database.")
    return plaintext
