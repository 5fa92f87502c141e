#!/usr/bin/env bash
# `make add-server NAME=db2 HOST=10.0.0.5 [PORT=5432] [CAPACITY=200]`: prepare a
# PostgreSQL server for tenant databases as the bootstrap prepares the local
# one, then register it on the platform once it is checked fit.
#
# Preparing needs a superuser of that server once: $PGSUPERUSER (default
# postgres) over TCP (trust or ~/.pgpass), or, on this machine, the postgres
# system user through the socket. It makes the platform's role (LOGIN
# CREATEDB CREATEROLE, never superuser, the platform's password) and closes
# every database of the server to PUBLIC. Set IPAI_PREPARE_SERVER=0 when an
# administrator of the server has done both; the check still runs.
#
# The check (ipai.tenant.server._add_checked) connects as the platform's role
# and refuses the server, recording nothing, when it is unreachable, the
# role lacks a right or is a superuser, a database is open to PUBLIC, or the
# server is newer than this machine's pg_dump. The Makefile sets up the
# machine and the platform database first.
source "$(dirname "$0")/lib.sh"

# Bad input: one line, exit 2, nothing prepared or registered.
bad_input() { echo "error: $*" >&2; exit 2; }
NAME="${1:-}" HOST="${2:-}" PORT="${3:-5432}" CAPACITY="${4:-}"
[[ -n "$NAME" && -n "$HOST" ]] || bad_input "usage: make add-server NAME=db2 HOST=10.0.0.5 [PORT=5432] [CAPACITY=200]"
[[ "$PORT" =~ ^[0-9]+$ ]] && ((10#$PORT >= 1 && 10#$PORT <= 65535)) \
    || bad_input "PORT must be a number from 1 to 65535, not '$PORT'"
[[ -z "$CAPACITY" || "$CAPACITY" =~ ^[1-9][0-9]*$ ]] || bad_input "CAPACITY must be a positive number, not '$CAPACITY'"
load_local_env  # IPAI_PLATFORM_DB and IPAI_ODOO_CONF from the environment win

if [[ "${IPAI_PREPARE_SERVER:-1}" == "1" ]]; then
    say "preparing $HOST:$PORT: role $IPAI_DB_USER, databases closed to PUBLIC"
    (export PGHOST="$HOST" PGPORT="$PORT"; make_platform_role && close_cluster_to_public) \
        || die "could not prepare $HOST:$PORT (nothing was registered)"
fi
args=(--name "$NAME" --host "$HOST" --port "$PORT")
[[ -z "$CAPACITY" ]] || args+=(--capacity "$CAPACITY")
exec "$PY" "$REPO_ROOT/scripts/tenants.py" add-server -c "$IPAI_ODOO_CONF" -d "$IPAI_PLATFORM_DB" "${args[@]}"
