#!/usr/bin/env bash
# `make run`'s local mail catcher: an SMTP server on 127.0.0.1:PORT that
# delivers nothing outside and keeps every message in the Maildir FOLDER
# (aiosmtpd, from PyPI). Both runtimes send there in development
# (smtp_server/smtp_port of .local/odoo.conf); `make mail` lists what came.
# With RUNTIME_URL (a tenant runtime), a message to a tenant's host name
# also reaches that tenant, as a cell's inbound gateway delivers it
# (scripts/mail_gateway.py).
#   scripts/mail_catcher.sh [PORT] [FOLDER] [RUNTIME_URL]
source "$(dirname "$0")/lib.sh"

PORT="${1:-${IPAI_SMTP_PORT:-2525}}"
FOLDER="${2:-$LOCAL_DIR/mail}"
RUNTIME_URL="${3:-}"
[[ "$PORT" =~ ^[0-9]+$ ]] || die "the mail catcher's port must be a number, not '$PORT'"
mkdir -p "$FOLDER"/{cur,new,tmp}  # a Maildir
load_local_env  # the gateway key derives from the runtime secret
# -n: stay this user (aiosmtpd would switch to nobody when run as root).
PYTHONPATH="$REPO_ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}" exec "$PY" -m aiosmtpd -n \
    -l "127.0.0.1:$PORT" -c mail_gateway.TenantGateway "$FOLDER" ${RUNTIME_URL:+"$RUNTIME_URL"}
