"""Credentials at rest: Fernet tokens keyed by IPAI_ENCRYPTION_KEY.

The key comes from the environment or the Odoo config option
``ipai_encryption_key``; without one the platform refuses to store a secret
rather than store it in clear.
"""

import hashlib
import hmac
import os
import secrets

from cryptography.fernet import Fernet, InvalidToken
from odoo.tools import config

from .errors import PermanentError


def _key():
    return os.environ.get("IPAI_ENCRYPTION_KEY") or config.get("ipai_encryption_key")


def _fernet():
    key = _key()
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


def seal(text):
    """Hex HMAC-SHA256 of ``text`` under a key derived from the platform's
    key: proves the platform wrote it, without saying what it says."""
    ensure_key()
    derived = hmac.new(_key().encode(), b"ipai-database-mark", hashlib.sha256).digest()
    return hmac.new(derived, text.encode(), hashlib.sha256).hexdigest()
