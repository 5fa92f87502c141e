"""Secrets of the tenant runtime, all derived from IPAI_RUNTIME_SECRET.

The runtime holds one secret of its own and none of the control plane's (no
Fernet key, no privileged role). From it both sides derive, for a name:

- the PostgreSQL password of a role (the runtime's routing role, each
  tenant's own role): the control plane sets it when it creates the role, the
  runtime computes it when it connects; nothing is stored or copied;
- a Fernet key per database, for the few secrets kept inside a tenant
  database (the Superset service password of ipai_bi_superset_embed). A
  tenant admin who plants another database's token in its own parameters
  gets nothing back: its database's key opens only its own tokens.

The secret is read from the environment only, never from the Odoo
configuration, so nothing in Odoo's config object reveals it.
"""

import base64
import hashlib
import hmac
import json
import os

from cryptography.fernet import Fernet, InvalidToken

SECRET_VARIABLE = "IPAI_RUNTIME_SECRET"
MIN_SECRET_LENGTH = 32


class MissingRuntimeSecret(Exception):
    pass


def _secret():
    secret = os.environ.get(SECRET_VARIABLE, "")
    if len(secret) < MIN_SECRET_LENGTH:
        raise MissingRuntimeSecret(
            f"{SECRET_VARIABLE} is not set (or shorter than {MIN_SECRET_LENGTH} characters): "
            "tenant roles and tenant-side secrets cannot be derived. Generate one with: "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    return secret.encode()


def _derive(purpose, name):
    return hmac.new(_secret(), f"{purpose}\0{name}".encode(), hashlib.sha256).digest()


def role_password(role):
    """The password of PostgreSQL role ``role``."""
    return base64.urlsafe_b64encode(_derive("ipai-pg-role", role)).decode().rstrip("=")


# The control plane's smoke check after an upgrade reaches a tenant in
# maintenance with this header; its value is derived for that database.
SMOKE_CHECK_HEADER = "X-Ipai-Smoke-Check"


def smoke_check_token(dbname):
    return base64.urlsafe_b64encode(_derive("ipai-smoke-check", dbname)).decode().rstrip("=")


def database_fernet(dbname):
    return Fernet(base64.urlsafe_b64encode(_derive("ipai-database-key", dbname)))


def encrypt_for_database(dbname, plaintext):
    return database_fernet(dbname).encrypt(plaintext.encode()).decode()


def decrypt_for_database(dbname, token):
    """None when ``token`` was not made for ``dbname`` (or is garbage)."""
    try:
        return database_fernet(dbname).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def seal_for_database(dbname, **values):
    """A token of ``values`` (strings) that only ``dbname``'s key opens, and
    that nobody without the key can change: what is sealed together stays
    together (the Superset address with its service password)."""
    return encrypt_for_database(dbname, json.dumps(values, sort_keys=True))


def open_for_database(dbname, token):
    """The values sealed in ``token`` for ``dbname``, or None."""
    plaintext = decrypt_for_database(dbname, token or "")
    try:
        values = json.loads(plaintext) if plaintext else None
    except ValueError:
        return None
    return values if isinstance(values, dict) else None
