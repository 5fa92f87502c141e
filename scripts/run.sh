#!/usr/bin/env bash
# `make run`: bootstrap, make sure the platform database exists with
# ipai_tenant_core installed and current, then serve it on 127.0.0.1.
source "$(dirname "$0")/lib.sh"

"$REPO_ROOT/scripts/bootstrap.sh"
load_local_env
ensure_platform_db

cat <<MSG

  ipai platform: http://$IPAI_HTTP_HOST:$IPAI_HTTP_PORT/odoo/tenants
  login:         admin
  password:      $IPAI_ADMIN_PASSWORD   (from .local/env)
  tenants:       http://<code>.localhost:$IPAI_HTTP_PORT  (make provision-tenant CODE=<code>)

MSG
# With a local Superset running (make superset), provisioning jobs also
# create each tenant's BI workspace.
if "$REPO_ROOT/scripts/superset.sh" status >/dev/null 2>&1; then
    export_env_file "$LOCAL_DIR/superset/env"
    export SUPERSET_URL="${SUPERSET_URL:-http://127.0.0.1:8088}"
    say "Superset answers at $SUPERSET_URL: tenants get BI workspaces"
fi
exec "$PY" "$(odoo_bin)" -c "$IPAI_ODOO_CONF" -d "$IPAI_PLATFORM_DB"
