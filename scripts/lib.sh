# Shared shell helpers and settings for the scripts the Makefile calls.
# Sourced, never executed. Every setting can be overridden from the environment.
# shellcheck shell=bash

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL_DIR="$REPO_ROOT/.local"          # git-ignored machine state
LOCAL_ENV="$LOCAL_DIR/env"             # generated secrets, mode 0600
VENV="${IPAI_VENV:-$REPO_ROOT/.venv}"
PY="$VENV/bin/python"

export PGHOST="${PGHOST:-127.0.0.1}"
export PGPORT="${PGPORT:-5432}"
export ODOO_SRC="${ODOO_SRC:-/opt/odoo/18.0}"

die() { echo "error: $*" >&2; exit 1; }
say() { echo "==> $*"; }

# Export the KEY=value lines of a generated env file; values already in the
# environment win, so CI or an operator can inject their own.
export_env_file() {
    [[ -f "$1" ]] || return 0
    local line key
    while IFS= read -r line; do
        [[ -z "$line" || "$line" == \#* ]] && continue
        key="${line%%=*}"
        [[ -n "${!key:-}" ]] || export "$line"
    done <"$1"
}

# Secrets generated once per machine live in .local/env.
load_local_env() {
    export_env_file "$LOCAL_ENV"
    export IPAI_DB_USER="${IPAI_DB_USER:-ipai}"
    export IPAI_PLATFORM_DB="${IPAI_PLATFORM_DB:-ipai_platform}"
    export IPAI_HTTP_HOST="${IPAI_HTTP_HOST:-127.0.0.1}"
    export IPAI_HTTP_PORT="${IPAI_HTTP_PORT:-8069}"
    export IPAI_GEVENT_PORT="${IPAI_GEVENT_PORT:-8072}"
    export IPAI_TENANT_HTTP_PORT="${IPAI_TENANT_HTTP_PORT:-8070}"
    export IPAI_TENANT_GEVENT_PORT="${IPAI_TENANT_GEVENT_PORT:-8073}"
    # The reverse proxy in front of both (scripts/proxy.sh): the URLs to use.
    export IPAI_PROXY_PORT="${IPAI_PROXY_PORT:-8080}"
    # `make run`'s mail catcher (scripts/mail_catcher.sh): where both runtimes send.
    export IPAI_SMTP_PORT="${IPAI_SMTP_PORT:-2525}"
    # The cell's mail policy service (scripts/mail_policy.py): per-plan
    # daily sending limits, asked by the catcher as Postfix asks it.
    export IPAI_MAIL_POLICY_PORT="${IPAI_MAIL_POLICY_PORT:-10040}"
    # PgBouncer between the tenant runtime and PostgreSQL (scripts/pgbouncer.py).
    export IPAI_PGBOUNCER_PORT="${IPAI_PGBOUNCER_PORT:-6432}"
    export IPAI_TENANT_ODOO_CONF="${IPAI_TENANT_ODOO_CONF:-$LOCAL_DIR/odoo-tenants.conf}"
    export IPAI_ODOO_CONF="${IPAI_ODOO_CONF:-$LOCAL_DIR/odoo.conf}"
    # libpq reads PGPASSWORD, so the password never has to sit in odoo.conf.
    export PGPASSWORD="${IPAI_DB_PASSWORD:-}"
}

# A stamp file records the hash of an expensive step's inputs, so a rerun skips
# the step while its inputs are unchanged.
stamp_ok() { [[ -f "$LOCAL_DIR/stamps/$1" && "$(cat "$LOCAL_DIR/stamps/$1")" == "$2" ]]; }
stamp_set() { mkdir -p "$LOCAL_DIR/stamps"; echo "$2" >"$LOCAL_DIR/stamps/$1"; }

# The Odoo source tree the bootstrap settled on (ODOO_SRC or the fallback clone).
odoo_src() { cat "$LOCAL_DIR/odoo-src-path" 2>/dev/null || echo "$ODOO_SRC"; }

odoo_bin() { echo "$(odoo_src)/odoo-bin"; }

# The addons of the platform database (control plane, billing, notifications).
PLATFORM_MODULES="ipai_tenant_core,ipai_tenant_billing,ipai_tenant_notify,ipai_platform_metrics,ipai_platform_status"
# Installed last: a platform database without it gets the missing addons.
PLATFORM_LAST_MODULE="${PLATFORM_MODULES##*,}"

# The platform database with the platform addons installed and current;
# created (about a minute) or updated when the addons changed since the last check.
addons_hash() {
    (cd "$REPO_ROOT" && find addons -type f -not -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum) \
        | sha256sum | cut -c1-16
}
ensure_platform_db() {
    local db="$IPAI_PLATFORM_DB" state
    state="$(psql -qAtX -U "$IPAI_DB_USER" -d "$db" \
        -c "select state from ir_module_module where name = '$PLATFORM_LAST_MODULE'" 2>/dev/null || true)"
    if [[ "$state" != "installed" ]]; then
        say "creating platform database $db with $PLATFORM_MODULES (about a minute)"
        "$PY" "$(odoo_bin)" -c "$IPAI_ODOO_CONF" -d "$db" -i "$PLATFORM_MODULES" \
            --stop-after-init --workers=0 --max-cron-threads=0 --log-level=warn
        "$VENV/bin/click-odoo" -c "$IPAI_ODOO_CONF" -d "$db" "$REPO_ROOT/scripts/set_admin_password.py"
        stamp_set "addons-$db" "$(addons_hash)"
        stamp_set "identity-$db" ""
    elif ! stamp_ok "addons-$db" "$(addons_hash)"; then
        say "addons changed since the last start: updating $PLATFORM_MODULES in $db"
        "$PY" "$(odoo_bin)" -c "$IPAI_ODOO_CONF" -d "$db" -u "$PLATFORM_MODULES" \
            --stop-after-init --workers=0 --max-cron-threads=0 --log-level=warn
        stamp_set "addons-$db" "$(addons_hash)"
    fi
    # Once per database, also for one made before this existed.
    if ! stamp_ok "identity-$db" "1"; then
        "$VENV/bin/click-odoo" -c "$IPAI_ODOO_CONF" -d "$db" "$REPO_ROOT/scripts/platform_identity.py"
        stamp_set "identity-$db" "1"
    fi
}

# Run SQL as a PostgreSQL superuser: over TCP as $PGSUPERUSER (trust or
# .pgpass), else through the local socket as the postgres system user.
# Without PGPASSWORD, which holds our role's password: libpq would send it
# for the superuser too and never look in .pgpass.
psql_super() {
    local super="${PGSUPERUSER:-postgres}"
    if env -u PGPASSWORD psql -qAtX -U "$super" -d postgres -c 'select 1' >/dev/null 2>&1; then
        env -u PGPASSWORD psql -qAtX -v ON_ERROR_STOP=1 -U "$super" -d postgres "$@"
    elif [[ $(id -u) -eq 0 ]] && id postgres >/dev/null 2>&1; then
        runuser -u postgres -- env -u PGHOST psql -qAtX -v ON_ERROR_STOP=1 -p "$PGPORT" -d postgres "$@"
    else
        die "cannot reach PostgreSQL as a superuser to create role $IPAI_DB_USER; create it yourself (LOGIN CREATEDB CREATEROLE) and set IPAI_DB_USER/IPAI_DB_PASSWORD"
    fi
}

# The platform's role on the server PGHOST:PGPORT, as the control plane
# connects everywhere: LOGIN CREATEDB CREATEROLE, never superuser, with the
# platform's password. format(%I, %L) quotes server-side; the password
# travels on stdin, not argv.
make_platform_role() {
    psql_super -v role="$IPAI_DB_USER" -v pw="$IPAI_DB_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB CREATEROLE NOSUPERUSER PASSWORD %L', :'role', :'pw') \gexec
SQL
}

# No database of the server PGHOST:PGPORT open to PUBLIC: tenant and BI
# roles connect to their own database alone; the platform's role keeps
# `postgres`, where it creates and drops databases.
close_cluster_to_public() {
    psql_super -v role="$IPAI_DB_USER" <<'SQL'
SELECT format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', datname) FROM pg_database \gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE postgres TO %I', :'role') \gexec
SQL
}

# A benchmark's throwaway platform. Everything a run creates is named
# after RUN (databases, roles, template and pool prefixes), so that
# drop_bench_run finds and drops it all, filestores included.
bench_run_names() {
    RUN="ipai_bench_$$"
    PLATFORM="${RUN}_platform"
    FILESTORE="$REPO_ROOT/.local/data/filestore"
}
# One SQL statement as the platform role, in database $2 (default postgres).
sql_ipai() { psql -qAtX -v ON_ERROR_STOP=1 -U "$IPAI_DB_USER" -d "${2:-postgres}" -c "$1"; }
drop_bench_run() {
    local db role
    for db in $(sql_ipai "select datname from pg_database where datname like '${RUN}\_%'"); do
        sql_ipai "drop database if exists \"$db\" with (force)" >/dev/null
        rm -rf "${FILESTORE:?}/$db"
    done
    for role in $(sql_ipai "select rolname from pg_roles where rolname like '${RUN}\_%'"); do
        sql_ipai "drop role if exists \"$role\"" >/dev/null
    done
}
create_bench_platform() {
    say "creating the throwaway platform database $PLATFORM"
    "$PY" "$(odoo_bin)" -c "$IPAI_ODOO_CONF" -d "$PLATFORM" -i "$PLATFORM_MODULES" \
        --stop-after-init --workers=0 --max-cron-threads=0 --log-level=warn
    local pair
    for pair in "database_prefix=${RUN}_t_" "role_prefix=${RUN}_r_" "template_prefix=${RUN}_tpl_"; do
        sql_ipai "insert into ir_config_parameter (key, value) values ('ipai_tenant_core.${pair%%=*}', '${pair#*=}')" "$PLATFORM"
    done
}
