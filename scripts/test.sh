#!/usr/bin/env bash
# `make test`: bootstrap, build a throwaway database with the addons
# installed, copy it as the integration tests' template, run every test in one
# pytest session (addon tests through pytest-odoo, then tests/), drop it all.
# Arguments replace the default targets, e.g. `scripts/test.sh tests -k clone`.
source "$(dirname "$0")/lib.sh"

"$REPO_ROOT/scripts/bootstrap.sh" --test
load_local_env
ODOO_BIN="$(odoo_src)/odoo-bin"
RUN_ID="ipai_test_$$"
UNIT_DB="${RUN_ID}_unit"
export IPAI_TEST_TEMPLATE_DB="${RUN_ID}_tpl"
export IPAI_TEST_RUN_ID="$RUN_ID"
FILESTORE="$REPO_ROOT/.local/data/filestore"
TEST_MODULES="ipai_tenant_core,ipai_tenant_billing,ipai_tenant_notify,ipai_platform_metrics,ipai_tenant_client,ipai_bi_superset_embed"

psql_ipai() { psql -qAtX -v ON_ERROR_STOP=1 -U "$IPAI_DB_USER" -d postgres "$@"; }
drop_run_databases() {  # $1: a run id; drops its databases, filestores and roles
    local db role
    for db in $(psql_ipai -c "select datname from pg_database where datname like '${1}\_%'"); do
        psql_ipai -c "drop database if exists \"$db\" with (force)" >/dev/null
        rm -rf "${FILESTORE:?}/$db"
    done
    for role in $(psql_ipai -c "select rolname from pg_roles where rolname like '${1}\_%'"); do
        psql_ipai -c "drop role if exists \"$role\"" >/dev/null
    done
}
# Runs killed with -9 leave databases behind; their process is gone, so
# anything named after a dead pid is fair game.
drop_stale_runs() {
    local db pid
    for db in $(psql_ipai -c "select datname from pg_database where datname ~ '^ipai_test_[0-9]+_'"); do
        pid="${db#ipai_test_}"; pid="${pid%%_*}"
        kill -0 "$pid" 2>/dev/null || drop_run_databases "ipai_test_$pid"
    done
}
superset_was_running=0
cleanup() {
    drop_run_databases "$RUN_ID"
    [[ $superset_was_running -eq 1 ]] || "$REPO_ROOT/scripts/superset.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A full run (what CI runs) fails on a lint error first, in a minute, before
# the long part; a narrowed run is for iterating and skips it.
if [[ $# -eq 0 ]]; then
    say "lint (ruff, pylint-odoo)"
    "$REPO_ROOT/scripts/lint.sh"
fi

drop_stale_runs
say "installing $TEST_MODULES into the throwaway database $UNIT_DB"
"$PY" "$ODOO_BIN" -c "$IPAI_ODOO_CONF" -d "$UNIT_DB" -i "$TEST_MODULES" \
    --stop-after-init --workers=0 --max-cron-threads=0 --log-level=warn
psql_ipai -c "create database \"$IPAI_TEST_TEMPLATE_DB\" template \"$UNIT_DB\""
psql_ipai -c "revoke connect, temporary on database \"$IPAI_TEST_TEMPLATE_DB\" from public"
[[ -d "$FILESTORE/$UNIT_DB" ]] && cp -a "$FILESTORE/$UNIT_DB" "$FILESTORE/$IPAI_TEST_TEMPLATE_DB"

# The BI tests need a real Superset: started here (installed once), stopped
# at the end unless it was already running.
"$REPO_ROOT/scripts/superset.sh" status >/dev/null 2>&1 && superset_was_running=1
"$REPO_ROOT/scripts/superset.sh" start

say "running the tests"
cd "$REPO_ROOT"
set +e
# Arguments narrow the run (e.g. tests/test_provisioning.py -k clone);
# without any, everything runs.
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(addons tests)
"$VENV/bin/pytest" "${targets[@]}" \
    --odoo-config "$IPAI_ODOO_CONF" --odoo-database "$UNIT_DB" --odoo-log-level warn \
    --odoo-extra test-enable
status=$?
exit $status
