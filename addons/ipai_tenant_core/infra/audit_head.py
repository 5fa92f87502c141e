"""What the audit trail keeps outside the database: its key and its head.

- The key: IPAI_AUDIT_KEY, or one derived from the platform's Fernet key
  (IPAI_ENCRYPTION_KEY); either way a secret the database does not hold, so
  whoever rewrites rows there cannot recompute their hashes.
- The head: the sequence and hash of the newest entry, written (with its own
  MAC) to ``<data_dir>/audit/<database>.head`` after each commit that appends
  an entry. Deleting the newest entries from the database no longer matches
  it. It only moves forward; a crash between the commit and this write
  leaves it one entry behind, which verification accepts.
"""

import base64
import fcntl
import hashlib
import hmac
import json
import os

from odoo.tools import config

from .errors import PermanentError


def _key():
    explicit = os.environ.get("IPAI_AUDIT_KEY")
    if explicit:
        return explicit.encode()
    fernet = os.environ.get("IPAI_ENCRYPTION_KEY") or config.get("ipai_encryption_key")
    if not fernet:
        raise PermanentError(
            "Neither IPAI_AUDIT_KEY nor IPAI_ENCRYPTION_KEY is set: the audit trail "
            "cannot be sealed."
        )
    return hmac.new(base64.urlsafe_b64decode(fernet), b"ipai-audit-chain", "sha256").digest()


def keyed_hash(payload):
    return hmac.new(_key(), payload.encode(), hashlib.sha256).hexdigest()


def _path(dbname):
    return os.path.join(config["data_dir"], "audit", f"{dbname}.head")


def _mac(sequence, entry_hash):
    return keyed_hash(f"head:{sequence}:{entry_hash}")


def advance(dbname, sequence, entry_hash):
    path = _path(dbname)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with open(path + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = read(dbname)
        if current and not current["invalid"] and current["sequence"] >= sequence:
            return
        record = {"sequence": sequence, "hash": entry_hash, "mac": _mac(sequence, entry_hash)}
        partial = f"{path}.partial"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(record, handle)
        os.replace(partial, path)


def read(dbname):
    """The recorded head, with ``invalid`` set when its MAC does not match;
    None when nothing was recorded for ``dbname``."""
    try:
        with open(_path(dbname)) as handle:
            record = json.load(handle)
    except FileNotFoundError:
        return None
    except ValueError:
        return {"sequence": 0, "hash": "", "invalid": True}
    sequence, entry_hash = int(record.get("sequence", 0)), str(record.get("hash", ""))
    valid = hmac.compare_digest(str(record.get("mac", "")), _mac(sequence, entry_hash))
    return {"sequence": sequence, "hash": entry_hash, "invalid": not valid}
