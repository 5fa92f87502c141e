#!/usr/bin/env bash
# `make bill-tenants [DATE=YYYY-MM-DD]`: one posted invoice per billing
# partner for the month of DATE (default today); prints what it invoiced.
# Exit codes: 0 billed, 2 bad input or already billed (nothing changed).
source "$(dirname "$0")/lib.sh"

"$REPO_ROOT/scripts/bootstrap.sh" >/dev/null
load_local_env
ensure_platform_db >&2
cd "$REPO_ROOT"
exec "$PY" "$REPO_ROOT/scripts/bill_tenants.py" -c "$IPAI_ODOO_CONF" -d "$IPAI_PLATFORM_DB" "$@"
