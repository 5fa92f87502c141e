#!/usr/bin/env bash
# `make verify-audit [DB=...]`: exit 0 when the platform's audit trail is
# intact, 1 naming the first bad or missing entry.
source "$(dirname "$0")/lib.sh"

load_local_env
exec "$VENV/bin/click-odoo" -c "$IPAI_ODOO_CONF" -d "${1:-$IPAI_PLATFORM_DB}" \
    --log-level=error "$REPO_ROOT/scripts/verify_audit.py"
