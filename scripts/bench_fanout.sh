#!/usr/bin/env bash
# `make bench-fanout [FANOUT="100 500"] [BACKENDS=8] [REGISTRIES=0]`: one ORM
# call on one tenant vs round-robin over FANOUT tenants, the tenant runtime
# reaching PostgreSQL directly and through PgBouncer (scripts/bench_fanout.py).
# In a throwaway platform database; everything the run creates (databases,
# roles, processes) is dropped or stopped at the end.
source "$(dirname "$0")/lib.sh"

FANOUT="${1:-100 500}"
"$REPO_ROOT/scripts/bootstrap.sh" >/dev/null
load_local_env
RUN="ipai_bench_$$"
PLATFORM="${RUN}_platform"
FILESTORE="$REPO_ROOT/.local/data/filestore"
psql_ipai() { psql -qAtX -v ON_ERROR_STOP=1 -U "$IPAI_DB_USER" -d "${2:-postgres}" -c "$1"; }
cleanup() {
    rm -f "${BENCH_CONF:-}"
    for db in $(psql_ipai "select datname from pg_database where datname like '${RUN}\_%'"); do
        psql_ipai "drop database if exists \"$db\" with (force)" >/dev/null
        rm -rf "${FILESTORE:?}/$db"
    done
    for role in $(psql_ipai "select rolname from pg_roles where rolname like '${RUN}\_%'"); do
        psql_ipai "drop role if exists \"$role\"" >/dev/null
    done
}
trap cleanup EXIT

say "creating the throwaway platform database $PLATFORM"
"$PY" "$(odoo_bin)" -c "$IPAI_ODOO_CONF" -d "$PLATFORM" -i "$PLATFORM_MODULES" \
    --stop-after-init --workers=0 --max-cron-threads=0 --log-level=warn
for pair in "database_prefix=${RUN}_t_" "role_prefix=${RUN}_r_" "template_prefix=${RUN}_tpl_"; do
    psql_ipai "insert into ir_config_parameter (key, value) values ('ipai_tenant_core.${pair%%=*}', '${pair#*=}')" "$PLATFORM"
done
# Nothing but the benchmark's requests: no platform cron competes.
psql_ipai "update ir_cron set active = false where cron_name like 'SaaS platform%'" "$PLATFORM"

BENCH_CONF="$REPO_ROOT/.local/bench-fanout-$$.conf"
sed "s/^ipai_platform_db = .*/ipai_platform_db = $PLATFORM/" "$IPAI_TENANT_ODOO_CONF" >"$BENCH_CONF"
fanouts=()
for count in $FANOUT; do fanouts+=(--fanout "$count"); done
"$PY" "$REPO_ROOT/scripts/bench_fanout.py" -c "$IPAI_ODOO_CONF" -d "$PLATFORM" \
    --runtime-conf "$BENCH_CONF" "${fanouts[@]}" --backends "${BACKENDS:-8}" \
    --registries "${REGISTRIES:-0}"
