#!/usr/bin/env bash
# `make run`: bootstrap, make sure the platform database exists with
# ipai_tenant_core installed and current, then serve it on 127.0.0.1.
source "$(dirname "$0")/lib.sh"

"$REPO_ROOT/scripts/bootstrap.sh"
load_local_env
ODOO_BIN="$(odoo_src)/odoo-bin"
DB="$IPAI_PLATFORM_DB"
odoo() { "$PY" "$ODOO_BIN" -c "$IPAI_ODOO_CONF" -d "$DB" "$@"; }
module_state() {
    psql -qAtX -U "$IPAI_DB_USER" -d "$DB" \
        -c "select state from ir_module_module where name = 'ipai_tenant_core'" 2>/dev/null || true
}
# The addons' code, hashed, tells whether the installed module is stale.
addons_hash() {
    (cd "$REPO_ROOT" && find addons -type f -not -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum) \
        | sha256sum | cut -c1-16
}

if [[ "$(module_state)" != "installed" ]]; then
    say "creating platform database $DB with ipai_tenant_core (about a minute)"
    odoo -i ipai_tenant_core --stop-after-init --workers=0 --max-cron-threads=0 --log-level=warn
    "$VENV/bin/click-odoo" -c "$IPAI_ODOO_CONF" -d "$DB" "$REPO_ROOT/scripts/set_admin_password.py"
    stamp_set "addons-$DB" "$(addons_hash)"
elif ! stamp_ok "addons-$DB" "$(addons_hash)"; then
    say "addons changed since the last start: updating ipai_tenant_core in $DB"
    odoo -u ipai_tenant_core --stop-after-init --workers=0 --max-cron-threads=0 --log-level=warn
    stamp_set "addons-$DB" "$(addons_hash)"
fi

cat <<MSG

  ipai platform: http://$IPAI_HTTP_HOST:$IPAI_HTTP_PORT/odoo/tenants
  login:         admin
  password:      $IPAI_ADMIN_PASSWORD   (from .local/env)

MSG
exec "$PY" "$ODOO_BIN" -c "$IPAI_ODOO_CONF" -d "$DB"
