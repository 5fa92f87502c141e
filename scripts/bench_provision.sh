#!/usr/bin/env bash
# `make bench-provision [N=20] [BULK=100]`: N signups from the template and N
# from the warm pool, BULK signups queued at once and drained by the job
# runner, fresh installs of the same module set, and the memory of a tenant
# runtime worker serving them all; in a throwaway platform database, and
# everything the run creates is dropped at the end. BENCH_FRESH=0 skips the
# fresh installs (quicker iterations); BENCH_ARGS passes more options to
# bench_provision.py (e.g. "--profile /tmp/pool.prof", "--no-webhook").
source "$(dirname "$0")/lib.sh"

TENANTS="${1:-20}"
BULK="${2:-100}"
"$REPO_ROOT/scripts/bootstrap.sh" >/dev/null
load_local_env
bench_run_names
cleanup() {
    for pid in ${SERVER_PID:-} ${MEMORY_PID:-}; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    rm -f "${BENCH_CONF:-}"
    drop_bench_run
}
trap cleanup EXIT
create_bench_platform
# The cron of a running platform must not compete with the benchmark (none
# runs here: the bench drains the queues itself). The welcome mail's stays
# active, so that an activation wakes it as in production.
sql_ipai "update ir_cron set active = false where cron_name like 'SaaS platform%'
           and cron_name not like '%welcome mail%'" "$PLATFORM"

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# The tenants are served as in production: by the tenant runtime, routed by
# host name from this run's platform database, each database with its
# tenant's own role, without any platform secret in its environment.
BENCH_CONF="$REPO_ROOT/.local/bench-$$.conf"
# Straight to PostgreSQL, as the figures before PgBouncer were measured
# (make bench-fanout compares both ways).
sed -e "s/^ipai_platform_db = .*/ipai_platform_db = $PLATFORM/" -e "/^ipai_db_poolers/d" \
    "$IPAI_TENANT_ODOO_CONF" >"$BENCH_CONF"
mkdir -p "$REPO_ROOT/.local/logs"
# The default cell's secret, never the master (make cell-env CELL=main).
CELL_ENV="$("$PY" "$REPO_ROOT/scripts/cell_env.py" main)"
start_runtime() {  # $1: port, $2: workers, $3: log name
    # shellcheck disable=SC2086 # two NAME=value words
    env -i PATH="$PATH" HOME="${HOME:-/tmp}" PGHOST="$PGHOST" PGPORT="$PGPORT" $CELL_ENV \
        "$PY" "$(odoo_bin)" -c "$BENCH_CONF" --http-port="$1" \
        --gevent-port="$(free_port)" --workers="$2" --max-cron-threads=0 --log-level=warn \
        --log-handler=odoo.addons.ipai_tenant_runtime.preload:INFO \
        >"$REPO_ROOT/.local/logs/$3.log" 2>&1 &
}
wait_for() {  # $1: port, $2: pid, $3: log name
    local deadline=$((SECONDS + 90))
    until curl -sf "http://127.0.0.1:$1/web/health" >/dev/null; do
        kill -0 "$2" 2>/dev/null || die "the bench's Odoo server stopped; see .local/logs/$3.log"
        ((SECONDS < deadline)) || die "the bench's Odoo server did not answer within 90 s; see .local/logs/$3.log"
        sleep 0.3
    done
}
PORT=$(free_port)
start_runtime "$PORT" 2 bench-server
SERVER_PID=$!
# One HTTP worker, so that every tenant's registry lands in the same process.
MEMORY_PORT=$(free_port)
start_runtime "$MEMORY_PORT" 1 bench-memory
MEMORY_PID=$!
wait_for "$PORT" "$SERVER_PID" bench-server
wait_for "$MEMORY_PORT" "$MEMORY_PID" bench-memory

"$PY" "$REPO_ROOT/scripts/bench_provision.py" -c "$IPAI_ODOO_CONF" -d "$PLATFORM" \
    --tenants "$TENANTS" --bulk "$BULK" --server "http://127.0.0.1:$PORT" \
    --server-log "$REPO_ROOT/.local/logs/bench-server.log" --server-workers 2 \
    --memory-server "http://127.0.0.1:$MEMORY_PORT" --memory-pid "$MEMORY_PID" \
    --fresh-db-prefix "${RUN}_fresh_" --fresh "${BENCH_FRESH:-2}" ${BENCH_ARGS:-}
