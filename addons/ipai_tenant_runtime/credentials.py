"""Secrets of the tenant runtime: one per cell, all derived from one master.

The control plane holds the master, ``IPAI_RUNTIME_SECRET``. Each cell's
secret is derived from it and the cell's code (``cell_secret``); a cell's
nodes hold their cell's code and secret (``IPAI_CELL``, ``IPAI_CELL_SECRET``)
and never the master, so nothing a node holds derives another cell's
passwords. A process with the master and no cell secret (the control plane,
or an older single-runtime deployment) is the default cell's.

From a cell's secret both sides derive, for a name:

- the PostgreSQL password of a role (the runtime's routing role, each
  tenant's own role): the control plane sets it when it creates the role, the
  runtime computes it when it connects; nothing is stored or copied;
- a Fernet key per database, for the few secrets kept inside a tenant
  database (the Superset service password of ipai_bi_superset_embed). A
  tenant admin who plants another database's token in its own parameters
  gets nothing back: its database's key opens only its own tokens.

Secrets are read from the environment only, never from the Odoo
configuration, so nothing in Odoo's config object reveals them. Every
function takes ``cell``: None (or the process's own cell) uses the
process's own secret; another cell's code needs the master.
"""

import base64
import hashlib
import hmac
import json
import os

from cryptography.fernet import Fernet, InvalidToken

try:
    from odoo.addons.ipai_platform_rules import cells
except ImportError:  # loaded as a file of its own (compose's entrypoint, make cell-env)
    import importlib.util

    _spec = importlib.util.spec_from_file_location(
        "ipai_platform_rules_cells",
        os.path.join(os.path.dirname(__file__), "..", "ipai_platform_rules", "cells.py"),
    )
    cells = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(cells)

# The control plane's master (a node never holds it).
SECRET_VARIABLE = "IPAI_RUNTIME_SECRET"
# A node's cell and that cell's secret (make cell-env prints them).
CELL_VARIABLE = "IPAI_CELL"
CELL_SECRET_VARIABLE = "IPAI_CELL_SECRET"
MIN_SECRET_LENGTH = 32


class MissingRuntimeSecret(Exception):
    pass


def own_cell():
    """The cell this process serves (the control plane: the default cell)."""
    return os.environ.get(CELL_VARIABLE) or cells.DEFAULT_CELL


def _master():
    secret = os.environ.get(SECRET_VARIABLE, "")
    if len(secret) < MIN_SECRET_LENGTH:
        raise MissingRuntimeSecret(
            f"{SECRET_VARIABLE} is not set (or shorter than {MIN_SECRET_LENGTH} characters): "
            "tenant roles and tenant-side secrets cannot be derived. Generate one with: "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    return secret.encode()


def cell_secret(cell):
    """Cell ``cell``'s secret, derived from the master (control plane only)."""
    problem = cells.code_problem(cell)
    if problem:
        raise ValueError(problem)
    digest = hmac.new(_master(), f"ipai-cell\0{cell}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _secret(cell=None):
    cell = cell or own_cell()
    own = os.environ.get(CELL_SECRET_VARIABLE, "")
    if own and cell == own_cell():
        if len(own) < MIN_SECRET_LENGTH:
            raise MissingRuntimeSecret(
                f"{CELL_SECRET_VARIABLE} is shorter than {MIN_SECRET_LENGTH} characters."
            )
        return own.encode()
    if own and not os.environ.get(SECRET_VARIABLE):
        # A node: what it holds opens its own cell, nothing else.
        raise MissingRuntimeSecret(
            f"this process holds cell {own_cell()}'s secret only, not cell {cell}'s"
        )
    return cell_secret(cell).encode()


def _derive(purpose, name, cell=None):
    return hmac.new(_secret(cell), f"{purpose}\0{name}".encode(), hashlib.sha256).digest()


def role_password(role, cell=None):
    """The password of PostgreSQL role ``role`` of cell ``cell``."""
    return base64.urlsafe_b64encode(_derive("ipai-pg-role", role, cell)).decode().rstrip("=")


# The control plane's smoke check after an upgrade reaches a tenant in
# maintenance with this header; its value is derived for that database.
SMOKE_CHECK_HEADER = "X-Ipai-Smoke-Check"


def smoke_check_token(dbname, cell=None):
    token = _derive("ipai-smoke-check", dbname, cell)
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


# The cell's mail gateway hands an incoming message to the tenant it is
# addressed to with this header: an HMAC of the tenant's host name and the
# message, under a key derived for the cell's gateway. The gateway holds
# that key only: it opens no database and derives no other secret.
MAIL_SIGNATURE_HEADER = "X-Ipai-Mail-Signature"


def mail_gateway_key(cell=None):
    """The key of cell ``cell``'s mail gateway (make cell-env prints it)."""
    key = _derive("ipai-mail-gateway", cell or own_cell(), cell)
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def mail_signature(gateway_key, host, message):
    """The signature of raw ``message`` (bytes) delivered to ``host``."""
    signed = host.lower().encode() + b"\0" + message
    return hmac.new(gateway_key.encode(), signed, hashlib.sha256).hexdigest()


def database_fernet(dbname, cell=None):
    return Fernet(base64.urlsafe_b64encode(_derive("ipai-database-key", dbname, cell)))


def encrypt_for_database(dbname, plaintext, cell=None):
    return database_fernet(dbname, cell).encrypt(plaintext.encode()).decode()


def decrypt_for_database(dbname, token, cell=None):
    """None when ``token`` was not made for ``dbname`` (or is garbage)."""
    try:
        return database_fernet(dbname, cell).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def seal_for_database(dbname, cell=None, **values):
    """A token of ``values`` (strings) that only ``dbname``'s key opens, and
    that nobody without the key can change: what is sealed together stays
    together (the Superset address with its service password)."""
    return encrypt_for_database(dbname, json.dumps(values, sort_keys=True), cell)


def open_for_database(dbname, token, cell=None):
    """The values sealed in ``token`` for ``dbname``, or None."""
    plaintext = decrypt_for_database(dbname, token or "", cell)
    try:
        values = json.loads(plaintext) if plaintext else None
    except ValueError:
        return None
    return values if isinstance(values, dict) else None
