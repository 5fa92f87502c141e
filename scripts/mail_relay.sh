#!/usr/bin/env bash
# The cell's outgoing mail relay as production runs it: Debian's Postfix with
# deploy/postfix/main.cf and master.cf, here as a private instance in STATE_DIR
# (its own configuration, queue and log; never the system's Postfix), in the
# foreground until stopped. Only paths, addresses and ports are overridden:
#   scripts/mail_relay.sh PORT STATE_DIR RELAYHOST POLICY
#     PORT       where it listens (127.0.0.1), the runtime's smtp_port
#     RELAYHOST  where it sends, host:port (the provider; the tests' catcher)
#     POLICY     the cell's mail policy service, host:port (scripts/mail_policy.py)
# Postfix's master runs as root and drops to the postfix user, which must be
# able to reach STATE_DIR (mode 0755, parents traversable).
source "$(dirname "$0")/lib.sh"

[[ $# -eq 4 ]] || die "usage: scripts/mail_relay.sh PORT STATE_DIR RELAYHOST POLICY"
PORT="$1" STATE_DIR="$2" RELAYHOST="$3" POLICY="$4"
[[ "$PORT" =~ ^[0-9]+$ ]] || die "the relay's port must be a number, not '$PORT'"
for address in "$RELAYHOST" "$POLICY"; do
    [[ "$address" =~ ^[A-Za-z0-9.-]+:[0-9]+$ ]] || die "'$address' is not host:port"
done
command -v postfix >/dev/null || die "postfix is not installed (scripts/bootstrap.sh --test installs it)"
[[ $(id -u) -eq 0 ]] || die "Postfix's master must be started as root"

conf="$STATE_DIR/conf"
mkdir -p "$conf" "$STATE_DIR/queue" "$STATE_DIR/data"
cp "$REPO_ROOT/deploy/postfix/main.cf" "$REPO_ROOT/deploy/postfix/master.cf" "$conf/"
sed -i -E "s/^smtp( +)inet /127.0.0.1:$PORT inet /" "$conf/master.cf"
postconf -c "$conf" -e \
    "queue_directory = $STATE_DIR/queue" \
    "data_directory = $STATE_DIR/data" \
    "inet_interfaces = 127.0.0.1" \
    "relayhost = [${RELAYHOST%:*}]:${RELAYHOST##*:}" \
    "smtp_tls_security_level = none" \
    "maillog_file = $STATE_DIR/maillog" \
    "maillog_file_prefixes = $STATE_DIR" \
    "smtpd_end_of_data_restrictions = check_policy_service { inet:$POLICY, timeout=10s, default_action=DEFER_IF_PERMIT }"
chown postfix "$STATE_DIR/data"
# Postfix's master outlives a signal to `postfix start-fg`: stopped by
# `postfix stop` when this script is.
trap 'postfix -c "$conf" stop >/dev/null 2>&1 || true' EXIT
trap 'exit 0' TERM INT
postfix -c "$conf" start-fg &
wait $!
