"""The cell's mail policy service: per-plan daily sending limits, counted at
the relay, where no tenant's code reaches.

    scripts/mail_policy.py --listen 127.0.0.1:10040 --server 127.0.0.1:5432 \\
        --platform-db ipai_platform --state-dir .local/mail-policy
        (IPAI_CELL, IPAI_CELL_SECRET in the environment: `make cell-env`)

It speaks Postfix's policy delegation protocol (SMTPD_POLICY_README: lines of
``name=value``, an empty line, answered by ``action=...`` and an empty line),
so a production relay uses it with one line of its main.cf
(deploy/postfix/main.cf):

    smtpd_end_of_data_restrictions = check_policy_service inet:<this>:10040

and `make run`'s mail catcher, the development relay, asks it the same
question for every message (scripts/mail_gateway.py, ``IPAI_MAIL_POLICY``).

- Who sent: the envelope sender's domain. The tenant runtime keeps a
  tenant's envelope sender on its own host names (ipai_tenant_runtime/
  gates.py), and the cell's routing view names them: its platform host and
  its verified custom domains, all counted as one tenant (its database).
  Read as the cell's routing role, the same view the runtime reads: this
  service sees only its cell's tenants and holds only its cell's secret.
  Any other sender (the platform's own mail) is not limited.
- How much: recipients per UTC day, against the plan's ``max_mails_day``
  (0: no limit). A message that would go over is refused whole, with a
  message that names the limit (Odoo shows it on the mail that failed).
- Where counted: a SQLite file in ``--state-dir``, so that a restart of this
  service lifts nothing; days before yesterday are forgotten.

Only the END-OF-MESSAGE state is counted (it carries ``recipient_count``);
any other state is answered DUNNO.
"""

import argparse
import asyncio
import contextlib
import datetime
import logging
import os
import socket
import sqlite3
import sys
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "addons" / "ipai_tenant_runtime"))

import credentials  # noqa: E402

_logger = logging.getLogger("mail_policy")

ROUTES_QUERY = """SELECT host, database_name, max_mails_day, plan_name
                    FROM ipai_cell_routing WHERE host IS NOT NULL"""
# The routing view is read again when its version moved, at most this often.
CHECK_SECONDS = 1.0
DUNNO = "DUNNO"


class Ledger:
    """Recipients accepted per tenant database and UTC day."""

    def __init__(self, path):
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute(
            """CREATE TABLE IF NOT EXISTS sent (
                   database TEXT NOT NULL, day TEXT NOT NULL, recipients INTEGER NOT NULL,
                   PRIMARY KEY (database, day))"""
        )

    def take(self, database, day, count, limit):
        """Count ``count`` more recipients for ``database`` on ``day`` unless
        that goes over ``limit`` (0: none); returns (taken, sent before)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT recipients FROM sent WHERE database = ? AND day = ?", (database, day)
                ).fetchone()
                sent = row[0] if row else 0
                taken = not limit or sent + count <= limit
                if taken:
                    self._db.execute(
                        """INSERT INTO sent VALUES (?, ?, ?) ON CONFLICT (database, day)
                           DO UPDATE SET recipients = recipients + excluded.recipients""",
                        (database, day, count),
                    )
                    self._db.execute("DELETE FROM sent WHERE day < date(?, '-1 day')", (day,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return taken, sent


class Routes:
    """Host name -> (database, daily limit, plan name), from the cell's
    routing view, read again when the platform's routing version moves."""

    def __init__(self, connect):
        self._connect = connect
        self._connection = None
        self._version = None
        self._checked_at = 0.0
        self._hosts = {}

    def of(self, host):
        if time.monotonic() - self._checked_at >= CHECK_SECONDS:
            self._refresh()
        return self._hosts.get(host)

    def _refresh(self):
        import psycopg2  # here: the gateway imports this module without it

        try:
            if self._connection is None or self._connection.closed:
                self._connection = self._connect()
                self._connection.autocommit = True
            with self._connection.cursor() as cr:
                cr.execute("SELECT last_value, is_called FROM ipai_routing_version")
                version = cr.fetchone()
                if version != self._version:
                    cr.execute(ROUTES_QUERY)
                    self._hosts = {
                        host.lower(): (database, limit or 0, plan or "")
                        for host, database, limit, plan in cr.fetchall()
                    }
                    self._version = version
        except psycopg2.Error as error:
            # The platform's server restarting: keep the last routes.
            _logger.warning("routing view unreadable: %s", error)
            self._connection = None
        self._checked_at = time.monotonic()


class Policy:
    def __init__(self, routes, ledger, today=None):
        self.routes = routes
        self.ledger = ledger
        self.today = today or (lambda: datetime.datetime.now(datetime.UTC).date().isoformat())

    def decide(self, request):
        """The action for one policy request (a dict of its attributes)."""
        if request.get("protocol_state", "").upper() != "END-OF-MESSAGE":
            return DUNNO
        domain = request.get("sender", "").rpartition("@")[2].strip().lower()
        route = self.routes.of(domain) if domain else None
        if route is None:
            return DUNNO
        database, limit, plan = route
        try:
            count = max(1, int(request.get("recipient_count") or 1))
        except ValueError:
            count = 1
        taken, sent = self.ledger.take(database, self.today(), count, limit)
        if taken:
            return DUNNO
        _logger.info("%s: refused %d recipient(s), %d of %d sent today", domain, count, sent, limit)
        return (
            f"550 5.4.5 {domain}: daily sending limit reached ({limit} recipients a day on "
            f"the {plan or 'current'} plan, {sent} sent today, UTC); sending resumes tomorrow, "
            "or choose a bigger plan"
        )


async def serve_client(policy, reader, writer):
    loop = asyncio.get_running_loop()
    request = {}
    try:
        while line := await reader.readline():
            line = line.decode("utf-8", "replace").rstrip("\r\n")
            if line:
                name, _, value = line.partition("=")
                request[name.strip()] = value
                continue
            # The database and the SQLite file are not asyncio's: a thread.
            action = await loop.run_in_executor(None, policy.decide, request)
            writer.write(f"action={action}\n\n".encode())
            await writer.drain()
            request = {}
    except ConnectionError:
        pass
    finally:
        writer.close()


def ask(address, attributes, timeout=10):
    """One policy request to the service at ``address`` (host, port), as
    Postfix makes it; returns the action (e.g. ``DUNNO``)."""
    with socket.create_connection(address, timeout=timeout) as connection:
        body = "".join(f"{name}={value}\n" for name, value in attributes.items())
        connection.sendall(f"request=smtpd_access_policy\n{body}\n".encode())
        answer = b""
        while not answer.endswith(b"\n\n"):
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
    first = answer.decode().partition("\n")[0]
    return first.partition("=")[2] if first.startswith("action=") else DUNNO


def address(text):
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not host:port")
    return host, int(port)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", type=address, default=("127.0.0.1", 10040))
    parser.add_argument(
        "--server", type=address, required=True, help="the platform's database server"
    )
    parser.add_argument("--platform-db", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument(
        "--routing-role",
        default=None,
        help="the cell's routing role (default: that of IPAI_CELL, e.g. ipai_runtime for main)",
    )
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    role = options.routing_role or credentials.cells.routing_role(credentials.own_cell())
    try:
        password = credentials.role_password(role)
    except credentials.MissingRuntimeSecret as error:
        parser.error(str(error))
    state_dir = Path(options.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    def connect():
        import psycopg2

        host, port = options.server
        return psycopg2.connect(
            dbname=options.platform_db,
            user=role,
            password=password,
            host=host,
            port=port,
            connect_timeout=5,
        )

    policy = Policy(Routes(connect), Ledger(state_dir / "sent.sqlite3"))

    async def run():
        host, port = options.listen
        server = await asyncio.start_server(
            lambda r, w: serve_client(policy, r, w), host=host, port=port
        )
        _logger.info("listening on %s:%s", host, port)
        async with server:
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


if __name__ == "__main__":
    os.umask(0o077)
    sys.exit(main())
