"""What a tenant's own code may do with SMTP in the tenant runtime.

``ir.mail_server.connect()`` is a public method: a tenant admin's server
action may call it and would get Odoo's ``SMTPConnection``, whose
``sendmail``, ``mail``/``rcpt``/``data`` and ``docmd`` send anything past
the sender gate (gates.py, which sits in Odoo's own sending path), and whose
``auth_plain()`` and ``user`` hand out the login of the cell's relay. And
``connect(host=..., port=...)`` (or a mail server record's "Test
Connection") reaches whatever address the node can: a probe of the internal
network. In a tenant runtime, therefore:

- ``connect`` returns a ``GatedConnection``: what Odoo's own sending uses
  (``send_message``, ``quit``, ``close``, the ``from_filter`` and
  ``smtp_from`` it reads), each message checked again before it leaves (its
  From, its envelope sender and its Sender, Return-Path and Resent-* headers
  on the tenant's own hosts); nothing that talks SMTP by hand or tells the
  login. Its real connection sits behind a name safe_eval refuses ("__").
  The mail server form's "Test Connection", which talks SMTP by hand
  without sending anything, keeps Odoo's connection for its own duration;
- no SMTP connection opens to a private, loopback or link-local address
  unless it is the cell's relay (``smtp_server``/``smtp_port``);
- no SMTP connection opens to any server but the relay unless the tenant's
  plan includes its own SMTP server (``own_smtp``): a mail server record of
  the tenant's own is then refused when used, with a message saying why,
  never silently replaced by the relay, so that a neutralized copy (whose
  active server is Odoo's refusing one) still sends nothing. The relay
  counts and limits what each tenant sends (scripts/mail_policy.py).

Outside a tenant runtime (the control plane, the engine's processes,
tests) nothing changes.
"""

import contextvars
import ipaddress
import socket

from odoo.addons.base.models import ir_mail_server
from odoo.tools import config
from odoo.tools.mail import email_domain_extract, email_normalize

from . import patching, runtime_config
from .routing_map import ROUTES

# Set while the mail server form's own connection test runs.
_CONNECTION_TEST = contextvars.ContextVar("ipai_smtp_connection_test", default=False)
# Set by connect() from the tenant's plan; unset (any other path to an
# SMTP connection): only the relay.
_OWN_SERVER_ALLOWED = contextvars.ContextVar("ipai_smtp_own_server", default=False)
# Headers naming a sender besides From; each must be on the tenant's hosts.
SENDER_HEADERS = ("Sender", "Return-Path", "Resent-From", "Resent-Sender")


class PrivateSmtpTarget(ConnectionRefusedError):
    """Refused before connecting, as a refused connection is reported
    (Odoo's sending and its connection test both handle OSError)."""


class OwnSmtpNotInPlan(ConnectionRefusedError):
    """A server other than the relay, on a plan without ``own_smtp``."""


def _tenant_runtime():
    return runtime_config.mode() == runtime_config.TENANT


def on_hosts(address, hosts):
    return email_domain_extract(email_normalize(address or "") or "") in hosts


def sending_problem(message, envelope_from, hosts):
    """Why ``message`` may not leave with ``envelope_from`` from a tenant
    whose hosts are ``hosts``, or None."""
    if not on_hosts(message["From"], hosts):
        return f"From {message['From']!r}"
    if not on_hosts(envelope_from, hosts):
        return f"envelope sender {envelope_from!r}"
    for header in SENDER_HEADERS:
        for value in message.get_all(header, ()):
            if not on_hosts(value, hosts):
                return f"{header} {value!r}"
    return None


class GatedConnection:
    """The SMTP connection a tenant's code is handed (see the module)."""

    def __init__(self, connection, hosts):
        self.__connection = connection
        self.__hosts = tuple(hosts)
        self.from_filter = connection.from_filter
        self.smtp_from = connection.smtp_from

    def send_message(self, message, from_addr=None, to_addrs=None, *args, **kwargs):
        problem = sending_problem(message, from_addr, self.__hosts)
        if problem:
            raise ir_mail_server.MailDeliveryException(
                f"Refused: {problem} is not on this database's own host names."
            )
        return self.__connection.send_message(message, from_addr, to_addrs, *args, **kwargs)

    def quit(self):
        return self.__connection.quit()

    def close(self):
        return self.__connection.close()


def _gated_connect(original):
    def connect(self, *args, **kwargs):
        if not _tenant_runtime():
            return original(self, *args, **kwargs)
        route = ROUTES.tenant(self.env.cr.dbname)
        token = _OWN_SERVER_ALLOWED.set(bool(route and route.features.get("own_smtp")))
        try:
            connection = original(self, *args, **kwargs)
        finally:
            _OWN_SERVER_ALLOWED.reset(token)
        if connection is None or _CONNECTION_TEST.get():
            return connection
        return GatedConnection(connection, ROUTES.hosts_of(self.env.cr.dbname))

    return connect


def _own_connection_for_the_test(original):
    def test_smtp_connection(self, autodetect_max_email_size=False):
        token = _CONNECTION_TEST.set(True)
        try:
            return original(self, autodetect_max_email_size)
        finally:
            _CONNECTION_TEST.reset(token)

    return test_smtp_connection


def is_relay(server, port):
    relay = config.get("smtp_server")
    return bool(relay) and (server, int(port or 0)) == (relay, int(config.get("smtp_port") or 0))


def check_target(server, port):
    """Refuse an SMTP server other than the relay on a plan without its own
    SMTP server, and one on a non-public address (the relay aside). A name
    that does not resolve fails as Odoo reports it (a neutralized copy's
    'invalid' host)."""
    if is_relay(server, port):
        return
    if not _OWN_SERVER_ALLOWED.get():
        raise OwnSmtpNotInPlan(
            f"This database's plan does not include sending through its own SMTP server "
            f"({server}:{port}): archive that outgoing mail server to send through the "
            "platform, or choose a plan with your own SMTP server."
        )
    for *_rest, address in socket.getaddrinfo(server, port, proto=socket.IPPROTO_TCP):
        if not ipaddress.ip_address(address[0].split("%")[0]).is_global:
            raise PrivateSmtpTarget(
                f"SMTP server {server}:{port} is on a private or local address; a "
                "tenant's mail server must be reachable on the internet."
            )


def _public_targets_only(original):
    def __init__(self, server, port, encryption, context=None):
        if _tenant_runtime():
            check_target(server, port)
        original(self, server, port, encryption, context=context)

    return __init__


def install():
    patching.patch(ir_mail_server.IrMailServer, "connect", _gated_connect)
    patching.patch(
        ir_mail_server.IrMailServer, "test_smtp_connection", _own_connection_for_the_test
    )
    patching.patch(ir_mail_server.SMTPConnection, "__init__", _public_targets_only)
