#!/usr/bin/env bash
# `make verify-audit [DB=...]`: exit 0 when the platform's audit trail is
# intact, 1 naming the first bad or missing entry, 2 (one line) when DB is
# not a platform database.
source "$(dirname "$0")/lib.sh"

load_local_env
cd "$REPO_ROOT"
exec "$PY" "$REPO_ROOT/scripts/verify_audit.py" -c "$IPAI_ODOO_CONF" -d "${1:-$IPAI_PLATFORM_DB}"
