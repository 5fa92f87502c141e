#!/usr/bin/env bash
# The reverse proxy on this machine (`make run`, the tests): Caddy with
# deploy/caddy/Caddyfile, the very file the compose stack's proxy runs, in
# plain HTTP on 127.0.0.1:PORT:
#   the platform host names (localhost, 127.0.0.1) -> the control plane
#   every other host (<code>.localhost, custom domains) -> the tenant runtime
# each runtime's /websocket to its gevent port, the rest to its HTTP port.
# Runs in the foreground until SIGTERM or SIGINT.
#
#   scripts/proxy.sh PORT PLATFORM_HTTP PLATFORM_WEBSOCKET TENANTS_HTTP TENANTS_WEBSOCKET
#
# (each upstream as host:port; the tenant runtime's two may each list several
# nodes, "host:port host:port", in the same order: a tenant host then sticks to
# one node while it is up, and moves to the next when it dies).
# IPAI_PROXY_STATE: Caddy's own files (default .local/caddy).
source "$(dirname "$0")/lib.sh"

[[ $# -eq 5 ]] || die "usage: $0 PORT PLATFORM_HTTP PLATFORM_WEBSOCKET TENANTS_HTTP TENANTS_WEBSOCKET"
CADDY="$(command -v caddy)" || die "caddy is missing: run scripts/bootstrap.sh (Debian's caddy package)"
state="${IPAI_PROXY_STATE:-$LOCAL_DIR/caddy}"
mkdir -p "$state"

# Caddy gets these variables and nothing else (env -i): no secret of ours. No
# admin API (no one reconfigures it; a second proxy on this machine would
# collide with its port), no TLS (IPAI_TLS=off with http:// site addresses).
exec env -i PATH="$PATH" HOME="${HOME:-/tmp}" XDG_DATA_HOME="$state" XDG_CONFIG_HOME="$state" \
    IPAI_TLS=off IPAI_PROXY_ADMIN=off IPAI_PROXY_BIND=127.0.0.1 \
    IPAI_PROXY_HTTP_PORT="$1" IPAI_PROXY_HTTPS_PORT="$(($1 + 1))" \
    IPAI_PLATFORM_HOST="http://localhost http://127.0.0.1" \
    IPAI_TENANT_SITE="http://" \
    IPAI_SUPERSET_HOST="http://superset.localhost" IPAI_SUPERSET_HTTP="127.0.0.1:8088" \
    IPAI_PLATFORM_HTTP="$2" IPAI_PLATFORM_WEBSOCKET="$3" \
    IPAI_TENANTS_HTTP="$4" IPAI_TENANTS_WEBSOCKET="$5" IPAI_TENANTS_ASK="${4%% *}" \
    "$CADDY" run --config "$REPO_ROOT/deploy/caddy/Caddyfile" --adapter caddyfile
