"""The Superset service password at rest: a Fernet token keyed by
IPAI_ENCRYPTION_KEY (environment, or the Odoo option ``ipai_encryption_key``),
the same key and format the control plane uses, so it can push the password
of a tenant's service account already encrypted."""

import os

from cryptography.fernet import Fernet, InvalidToken
from odoo.tools import config


class MissingKeyError(Exception):
    pass


def _fernet():
    key = os.environ.get("IPAI_ENCRYPTION_KEY") or config.get("ipai_encryption_key")
    if not key:
        raise MissingKeyError(
            "IPAI_ENCRYPTION_KEY is not set: the Superset password cannot be stored encrypted."
        )
    try:
        return Fernet(key.encode() if isinstance(key, str) else key)
    except ValueError as exc:
        raise MissingKeyError("IPAI_ENCRYPTION_KEY is not a valid Fernet key.") from exc


def encrypt(plaintext):
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token):
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise MissingKeyError("The stored Superset password cannot be decrypted.") from exc
