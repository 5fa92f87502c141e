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
bench_run_names
cleanup() {
    rm -f "${BENCH_CONF:-}"
    drop_bench_run
}
trap cleanup EXIT
create_bench_platform
# Nothing but the benchmark's requests: no platform cron competes.
sql_ipai "update ir_cron set active = false where cron_name like 'SaaS platform%'" "$PLATFORM"

BENCH_CONF="$REPO_ROOT/.local/bench-fanout-$$.conf"
sed "s/^ipai_platform_db = .*/ipai_platform_db = $PLATFORM/" "$IPAI_TENANT_ODOO_CONF" >"$BENCH_CONF"
fanouts=()
for count in $FANOUT; do fanouts+=(--fanout "$count"); done
"$PY" "$REPO_ROOT/scripts/bench_fanout.py" -c "$IPAI_ODOO_CONF" -d "$PLATFORM" \
    --runtime-conf "$BENCH_CONF" "${fanouts[@]}" --backends "${BACKENDS:-8}" \
    --registries "${REGISTRIES:-0}"
