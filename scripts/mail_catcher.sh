#!/usr/bin/env bash
# `make run`'s local mail catcher: an SMTP server on 127.0.0.1:PORT that
# delivers nothing and keeps every message in the Maildir FOLDER (aiosmtpd's
# Mailbox handler, from PyPI). Both runtimes send there in development
# (smtp_server/smtp_port of .local/odoo.conf); `make mail` lists what came.
#   scripts/mail_catcher.sh [PORT] [FOLDER]
source "$(dirname "$0")/lib.sh"

PORT="${1:-${IPAI_SMTP_PORT:-2525}}"
FOLDER="${2:-$LOCAL_DIR/mail}"
[[ "$PORT" =~ ^[0-9]+$ ]] || die "the mail catcher's port must be a number, not '$PORT'"
mkdir -p "$FOLDER"/{cur,new,tmp}  # a Maildir
# -n: stay this user (aiosmtpd would switch to nobody when run as root).
exec "$PY" -m aiosmtpd -n -l "127.0.0.1:$PORT" -c aiosmtpd.handlers.Mailbox "$FOLDER"
