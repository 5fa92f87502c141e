#!/usr/bin/env bash
# `make api-key LOGIN=alice [NAME= DAYS= RATE=]`: a REST API key for a user
# of the platform database, printed once (docs/api.md). Exit 2: bad input.
source "$(dirname "$0")/lib.sh"

"$REPO_ROOT/scripts/bootstrap.sh" >/dev/null
load_local_env
ensure_platform_db >&2
cd "$REPO_ROOT"
exec "$PY" "$REPO_ROOT/scripts/api_key.py" -c "$IPAI_ODOO_CONF" -d "$IPAI_PLATFORM_DB" "$@"
