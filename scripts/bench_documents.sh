#!/usr/bin/env bash
# `make bench-documents [ROUNDS=10]`: p50 time for a tenant's invoice PDF,
# printed through the tenant runtime (scripts/bench_documents.py). In a
# throwaway platform database; everything the run creates is dropped at the
# end.
source "$(dirname "$0")/lib.sh"

"$REPO_ROOT/scripts/bootstrap.sh" >/dev/null
load_local_env
bench_run_names
trap drop_bench_run EXIT
create_bench_platform
# Nothing but the benchmark's requests: no platform cron competes.
sql_ipai "update ir_cron set active = false where cron_name like 'SaaS platform%'" "$PLATFORM"
"$PY" "$REPO_ROOT/scripts/bench_documents.py" -c "$IPAI_ODOO_CONF" -d "$PLATFORM" \
    --rounds "${1:-10}"
