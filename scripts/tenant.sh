#!/usr/bin/env bash
# Operator commands on the platform database (make provision-tenant etc.):
#   scripts/tenant.sh provision --code acme [--plan trial] ...
# Sets up what is missing first, then runs scripts/tenants.py; its exit code
# passes through (0 done, 1 job failed, 2 bad input).
source "$(dirname "$0")/lib.sh"

"$REPO_ROOT/scripts/bootstrap.sh" >/dev/null
load_local_env
ensure_platform_db >&2
command="$1"
shift
cd "$REPO_ROOT"
exec "$PY" "$REPO_ROOT/scripts/tenants.py" "$command" -c "$IPAI_ODOO_CONF" -d "$IPAI_PLATFORM_DB" "$@"
