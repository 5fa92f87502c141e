#!/usr/bin/env bash
# `make bench-cli [ROUNDS=7]`: how long the operator commands take on this
# checkout's platform database once bootstrapped: `make list-tenants` and its
# phases, `make list-backups`, and `make pool-status`, which loads Odoo's
# registry, for comparison. Then whether those runs left the bootstrap's
# stamps untouched (nothing changed, so nothing was redone). Only reads.
# Exit 1 when a target is not met.
source "$(dirname "$0")/lib.sh"

ROUNDS="${1:-7}"
TARGET_SECONDS=1.5
"$REPO_ROOT/scripts/bootstrap.sh" >/dev/null
load_local_env
ensure_platform_db >&2
cd "$REPO_ROOT"

# Microseconds one run of "$@" takes (output discarded; a failure stops the bench).
run_us() {
    local start=${EPOCHREALTIME/./}
    "$@" >/dev/null 2>&1 || die "failed: $*"
    echo $((${EPOCHREALTIME/./} - start))
}
# Times ROUNDS runs of "$@" after one unmeasured run, and prints "$label
# median 0.152 s (min 0.140, max 0.201)"; leaves the median in MEDIAN_US.
measure() {
    local label="$1" rounds="$2" runs i
    shift 2
    "$@" >/dev/null 2>&1 || die "failed: $*"
    runs="$(for ((i = 0; i < rounds; i++)); do run_us "$@"; done | sort -n)"
    MEDIAN_US="$(sed -n "$(((rounds + 1) / 2))p" <<<"$runs")"
    awk -v label="$label" -v median="$MEDIAN_US" -v min="$(head -1 <<<"$runs")" \
        -v max="$(tail -1 <<<"$runs")" 'BEGIN {
            printf "%-34s median %.3f s (min %.3f, max %.3f)\n", label, median / 1e6, min / 1e6, max / 1e6
        }'
}
make_target() { make --no-print-directory -s "$@"; }
ensure_quietly() { ensure_platform_db >/dev/null; }

count() { psql -qAtX -U "$IPAI_DB_USER" -d "$IPAI_PLATFORM_DB" -c "select count(*) from $1"; }
echo "platform database $IPAI_PLATFORM_DB: $(count ipai_tenant) tenant(s), $(count ipai_tenant_backup) backup(s); $ROUNDS rounds each"

since="$(mktemp)"
trap 'rm -f "$since"' EXIT
measure "make list-tenants" "$ROUNDS" make_target list-tenants
list_us=$MEDIAN_US
measure "  scripts/bootstrap.sh (stamps)" "$ROUNDS" scripts/bootstrap.sh
measure "  ensure_platform_db" "$ROUNDS" ensure_quietly
measure "  tenants.py list" "$ROUNDS" "$PY" scripts/tenants.py list \
    -c "$IPAI_ODOO_CONF" -d "$IPAI_PLATFORM_DB"
measure "make list-backups" "$ROUNDS" make_target list-backups
measure "make pool-status (registry)" 3 make_target pool-status
rewritten="$(find "$LOCAL_DIR/stamps" -name 'bootstrap-*' -newer "$since")"

echo
verdict() { if [[ "$1" == 1 ]]; then echo met; else echo "NOT met"; fi; }
list_met=$(awk -v us="$list_us" -v target="$TARGET_SECONDS" 'BEGIN { print (us / 1e6 <= target) }')
stamps_met=$([[ -z "$rewritten" ]] && echo 1 || echo 0)
echo "target make list-tenants within $TARGET_SECONDS s: $(verdict "$list_met")"
echo "target make targets skip the bootstrap when its stamps say nothing changed: $(verdict "$stamps_met")"
[[ "$list_met$stamps_met" == 11 ]]
