"""Credentials at rest: Fernet tokens keyed by IPAI_ENCRYPTION_KEY.

The key comes from the environment or the Odoo config option
``ipai_encryption_key``; without one the platform refuses to store a secret
rather than store it in clear.
"""

import os
import secrets

from cryptography.fernet import Fernet, InvalidToken
from odoo.tools import config

from .errors import PermanentError


def _fernet():
    key = os.environ.get("IPAI_ENCRYPTION_KEY") or config.get("ipai_encryption_key")
    if not key:
        raise PermanentError(
            "IPAI_ENCRYPTION_KEY is not set: the platform will not store tenant "
            "credentials unencrypted. Generate one with: python3 -c 'from "
            "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        )
    try:
        return Fernet(key.encode() if isinstance(key, str) else key)
    except ValueError as exc:
        raise PermanentError("IPAI_ENCRYPTION_KEY is not a valid Fernet key.") from exc


def encrypt(plaintext):
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token):
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise PermanentError("A stored credential cannot be decrypted with this key.") from exc


def ensure_key():
    _fernet()


def new_password(nbytes=18):
    return secrets.token_urlsafe(nbytes)
