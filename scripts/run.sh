#!/usr/bin/env bash
# `make run`: bootstrap, make sure the platform database exists with
# ipai_tenant_core and ipai_tenant_billing installed and current, provision the demo tenant on the
# first run, then serve both runtimes behind the reverse proxy on 127.0.0.1:
#   the proxy (Caddy, deploy/caddy/Caddyfile)      on IPAI_PROXY_PORT (8080):
#     localhost, 127.0.0.1 -> the control plane, any other host -> the tenant runtime
#   the control plane (platform database only)  on IPAI_HTTP_PORT (8069), websockets 8072
#   the tenant runtime (every tenant database)   on IPAI_TENANT_HTTP_PORT (8070), websockets 8073
#   PgBouncer, the tenant runtime's way to PostgreSQL, on IPAI_PGBOUNCER_PORT (6432)
# NODES=N (`make run NODES=2`) runs N nodes of the tenant runtime behind the
# proxy, node i on those ports + 100 * (i - 1): each tenant host sticks to one
# node, and goes to another when it dies (sessions are shared). On this one
# machine the nodes share the data directory.
source "$(dirname "$0")/lib.sh"

"$REPO_ROOT/scripts/bootstrap.sh"
load_local_env
ensure_platform_db
CREDENTIALS_DIR="$LOCAL_DIR/credentials"
DEMO_CODE="${IPAI_DEMO_TENANT:-demo}"

# Every mail of both runtimes lands in the local mail catcher (make mail
# lists them): the welcome mail of the demo tenant is the first. Mail to a
# tenant's host (a reply to its catchall, an alias) also reaches that
# tenant, through the tenant runtime.
# Before accepting a message the catcher asks the cell's mail policy service
# (per-plan daily sending limits) as the production relay, Postfix, does.
mkdir -p "$LOCAL_DIR/logs"
cell_env="$("$PY" "$REPO_ROOT/scripts/cell_env.py" main)" || die "cannot derive the default cell's secret"
# shellcheck disable=SC2086  # cell_env is NAME=value lines
env -i PATH="$PATH" HOME="${HOME:-/tmp}" LANG="${LANG:-C.UTF-8}" $cell_env \
    "$PY" "$REPO_ROOT/scripts/mail_policy.py" --listen "127.0.0.1:$IPAI_MAIL_POLICY_PORT" \
    --server "$PGHOST:$PGPORT" --platform-db "$IPAI_PLATFORM_DB" \
    --state-dir "$LOCAL_DIR/mail-policy" >"$LOCAL_DIR/logs/mail-policy.log" 2>&1 &
policy_pid=$!
IPAI_MAIL_POLICY="127.0.0.1:$IPAI_MAIL_POLICY_PORT" \
    "$REPO_ROOT/scripts/mail_catcher.sh" "$IPAI_SMTP_PORT" "$LOCAL_DIR/mail" \
    "http://127.0.0.1:$IPAI_TENANT_HTTP_PORT" >"$LOCAL_DIR/logs/mail-catcher.log" 2>&1 &
catcher_pid=$!
trap 'kill "$catcher_pid" "$policy_pid" 2>/dev/null || true' EXIT INT TERM

# With a local Superset running (make superset), provisioning jobs also
# create each tenant's BI workspace.
if "$REPO_ROOT/scripts/superset.sh" status >/dev/null 2>&1; then
    export_env_file "$LOCAL_DIR/superset/env"
    export SUPERSET_URL="${SUPERSET_URL:-http://127.0.0.1:8088}"
    say "Superset answers at $SUPERSET_URL: tenants get BI workspaces"
fi

# One ready tenant for a newcomer, provisioned once (its password file is
# written once, too: the password is shown a single time).
demo_state="$(psql -qAtX -U "$IPAI_DB_USER" -d "$IPAI_PLATFORM_DB" \
    -c "select state from ipai_tenant where code = '$DEMO_CODE'" 2>/dev/null || true)"
if [[ -z "$demo_state" ]]; then
    say "provisioning the demo tenant '$DEMO_CODE' (first run only)"
    (cd "$REPO_ROOT" && IPAI_CREDENTIALS_DIR="$CREDENTIALS_DIR" "$PY" scripts/tenants.py provision \
        -c "$IPAI_ODOO_CONF" -d "$IPAI_PLATFORM_DB" --code "$DEMO_CODE" --name "Demo Company" \
        --email "admin@$DEMO_CODE.example" --admin-name "Demo Admin") || say "the demo tenant could not be provisioned; see above"
    # Signups on the trial plan take a ready database from a small warm
    # pool (the demo tenant built its template); the cron keeps it full.
    say "warm pool: ${IPAI_TRIAL_POOL:-2} ready database(s) for the trial plan"
    (cd "$REPO_ROOT" && "$PY" scripts/tenants.py refill-pool -c "$IPAI_ODOO_CONF" \
        -d "$IPAI_PLATFORM_DB" --plan trial --size "${IPAI_TRIAL_POOL:-2}") \
        || say "the warm pool could not be filled; see above"
fi

# The tenant runtime gets only what it may hold: no platform role password,
# no Fernet key, no Superset admin, no master password, and of the runtime's
# secrets only its cell's (the default cell's: make cell-env CELL=main).
runtime_env=(PATH="$PATH" HOME="${HOME:-/tmp}" LANG="${LANG:-C.UTF-8}" TZ=UTC
    PGHOST="$PGHOST" PGPORT="$PGPORT" $cell_env)
mkdir -p "$LOCAL_DIR/logs"
# The tenant runtime opens every database through PgBouncer (ipai_db_poolers
# in its config): a pool per tenant role, its user list from the routing
# view. It holds the same secret as the runtime, nothing more.
env -i "${runtime_env[@]}" "$PY" "$REPO_ROOT/scripts/pgbouncer.py" --port "$IPAI_PGBOUNCER_PORT" \
    --server "$PGHOST:$PGPORT" --platform-db "$IPAI_PLATFORM_DB" \
    --state-dir "${IPAI_PGBOUNCER_STATE:-$LOCAL_DIR/pgbouncer}" >"$LOCAL_DIR/logs/pgbouncer.log" 2>&1 &
bouncer_pid=$!
sleep 1
kill -0 "$bouncer_pid" 2>/dev/null \
    || die "PgBouncer did not start (port $IPAI_PGBOUNCER_PORT taken? set IPAI_PGBOUNCER_PORT); see .local/logs/pgbouncer.log"
NODES="${NODES:-1}"
[[ "$NODES" =~ ^[1-9]$ ]] || die "NODES must be a number from 1 to 9, not '$NODES'"
runtime_pids=() node_http=() node_websocket=() node_logs=()
for ((node = 1; node <= NODES; node++)); do
    offset=$((100 * (node - 1)))
    log="$LOCAL_DIR/logs/tenant-runtime.log"
    [[ $node -eq 1 ]] || log="$LOCAL_DIR/logs/tenant-runtime-$node.log"
    env -i "${runtime_env[@]}" "$PY" "$(odoo_bin)" -c "$IPAI_TENANT_ODOO_CONF" --logfile "$log" \
        --http-port=$((IPAI_TENANT_HTTP_PORT + offset)) \
        --gevent-port=$((IPAI_TENANT_GEVENT_PORT + offset)) &
    runtime_pids+=($!)
    node_http+=("127.0.0.1:$((IPAI_TENANT_HTTP_PORT + offset))")
    node_websocket+=("127.0.0.1:$((IPAI_TENANT_GEVENT_PORT + offset))")
    node_logs+=("${log#"$REPO_ROOT"/}")
done
# The default cell's nodes are these (the platform probes them for its
# status page, /status).
IPAI_CELL_CODE=main IPAI_CELL_NODES="${node_http[*]}" "$VENV/bin/click-odoo" \
    -c "$IPAI_ODOO_CONF" -d "$IPAI_PLATFORM_DB" "$REPO_ROOT/scripts/cell_nodes.py" \
    || say "could not name the default cell's nodes; see above"
# The proxy in front of both, as in production: slow clients wait in it, not
# in an Odoo worker, and /websocket reaches each runtime's gevent port.
"$REPO_ROOT/scripts/proxy.sh" "$IPAI_PROXY_PORT" \
    "127.0.0.1:$IPAI_HTTP_PORT" "127.0.0.1:$IPAI_GEVENT_PORT" \
    "${node_http[*]}" "${node_websocket[*]}" \
    >"$LOCAL_DIR/logs/proxy.log" 2>&1 &
proxy_pid=$!
trap 'kill "${runtime_pids[@]}" "$proxy_pid" "$bouncer_pid" "$catcher_pid" "$policy_pid" 2>/dev/null || true' EXIT INT TERM
# Caddy stops at once when it cannot listen.
sleep 1
kill -0 "$policy_pid" 2>/dev/null \
    || die "the mail policy service did not start (port $IPAI_MAIL_POLICY_PORT taken? set IPAI_MAIL_POLICY_PORT); see .local/logs/mail-policy.log"
kill -0 "$catcher_pid" 2>/dev/null \
    || die "the mail catcher did not start (port $IPAI_SMTP_PORT taken? set IPAI_SMTP_PORT); see .local/logs/mail-catcher.log"
kill -0 "$proxy_pid" 2>/dev/null \
    || die "the proxy did not start (port $IPAI_PROXY_PORT taken? set IPAI_PROXY_PORT); see .local/logs/proxy.log"

demo_file="$CREDENTIALS_DIR/$DEMO_CODE-admin.txt"
cat <<MSG

  ipai platform:  http://127.0.0.1:$IPAI_PROXY_PORT/odoo/tenants   (or http://localhost:$IPAI_PROXY_PORT)
  login:          admin
  password:       $IPAI_ADMIN_PASSWORD   (from .local/env)

  tenants:        http://<code>.localhost:$IPAI_PROXY_PORT  (make provision-tenant CODE=<code>)
                  served by the tenant runtime ($NODES node(s): ${node_http[*]}),
                  logs in ${node_logs[*]}

  both through the proxy (Caddy, deploy/caddy/Caddyfile; log in .local/logs/proxy.log);
  tenant databases through PgBouncer on 127.0.0.1:$IPAI_PGBOUNCER_PORT (log in .local/logs/pgbouncer.log);
  the runtimes' own ports, without it: platform $IPAI_HTTP_HOST:$IPAI_HTTP_PORT, tenants :$IPAI_TENANT_HTTP_PORT
  mail:           nothing leaves this machine: every mail lands in .local/mail
                  (SMTP 127.0.0.1:$IPAI_SMTP_PORT); \`make mail\` lists them, \`make mail SHOW=1\` prints one;
                  each tenant held to its plan's mails per day (.local/logs/mail-policy.log)
MSG
if [[ -f "$demo_file" ]]; then
    printf '  demo tenant:    %s\n' "$(sed -n 1p "$demo_file")"
    printf '                  %s\n' "$(sed -n 2p "$demo_file")" "$(sed -n 3p "$demo_file")"
    printf '                  (from %s)\n' "${demo_file#"$REPO_ROOT"/}"
fi
echo
"$PY" "$(odoo_bin)" -c "$IPAI_ODOO_CONF" -d "$IPAI_PLATFORM_DB"
