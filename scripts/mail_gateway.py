"""The mail catcher's handler (scripts/mail_catcher.sh): keeps every message
in a Maildir, as aiosmtpd's Mailbox does, and hands each one addressed to a
tenant's host name to that tenant, as a cell's inbound mail gateway does.

For each recipient domain of a message, the raw message (with a
``Delivered-To`` line naming the recipients there, as an MTA adds) is posted
to the tenant runtime's ``/ipai/mail/inbound`` at that domain, signed with
the cell's mail gateway key (ipai_tenant_runtime/mail_gateway.py). The
runtime answers 404 for a domain that is no tenant's (mail to the outside
world, kept in the Maildir only).

As the development relay, it first asks the cell's mail policy service
(scripts/mail_policy.py, at ``IPAI_MAIL_POLICY``=host:port when set) what
Postfix would ask it at the end of each message, and refuses the message
with the service's answer (a tenant over its plan's daily sending limit),
keeping nothing.

The key: ``IPAI_MAIL_GATEWAY_KEY`` (what `make cell-env` prints for a
cell's gateway), else derived from ``IPAI_RUNTIME_SECRET`` (development:
the default cell's).

    python -m aiosmtpd -n -l 127.0.0.1:2525 \\
        -c mail_gateway.TenantGateway MAILDIR [RUNTIME_URL]
"""

import asyncio
import logging
import os
import sys
from collections import defaultdict

import requests
from aiosmtpd.handlers import Mailbox
from cell_env import runtime_credentials
from mail_policy import DUNNO, address, ask

KEY_VARIABLE = "IPAI_MAIL_GATEWAY_KEY"
POLICY_VARIABLE = "IPAI_MAIL_POLICY"

_logger = logging.getLogger("mail_gateway")


def gateway_key():
    return os.environ.get(KEY_VARIABLE) or runtime_credentials().mail_gateway_key()


def deliver(runtime_url, key, recipients, content):
    """Post ``content`` (bytes) to the tenant of each recipient domain;
    returns {domain: HTTP status}."""
    credentials = runtime_credentials()
    by_domain = defaultdict(list)
    for recipient in recipients:
        by_domain[recipient.rpartition("@")[2].lower()].append(recipient)
    statuses = {}
    for domain, addresses in sorted(by_domain.items()):
        message = f"Delivered-To: {', '.join(addresses)}\r\n".encode() + content
        response = requests.post(
            f"{runtime_url}/ipai/mail/inbound",
            data=message,
            headers={
                "Host": domain,
                "Content-Type": "message/rfc822",
                credentials.MAIL_SIGNATURE_HEADER: credentials.mail_signature(key, domain, message),
            },
            timeout=60,
        )
        statuses[domain] = response.status_code
        if response.status_code not in (200, 404):
            _logger.warning("delivery to %s: %s %s", domain, response.status_code, response.text)
    return statuses


async def hand_over(runtime_url, key, envelope):
    """``deliver`` an aiosmtpd envelope, off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(
        None, deliver, runtime_url, key, envelope.rcpt_tos, envelope.original_content
    )


class TenantGateway(Mailbox):
    def __init__(self, mail_dir, runtime_url=None):
        super().__init__(mail_dir)
        self.runtime_url = runtime_url
        self.key = gateway_key() if runtime_url else None
        policy = os.environ.get(POLICY_VARIABLE)
        self.policy = address(policy) if policy else None

    def refusal(self, session, envelope):
        """The policy service's refusal of this message, as an SMTP reply,
        or None (asked as Postfix asks it: smtpd_end_of_data_restrictions)."""
        if self.policy is None:
            return None
        request = {
            "protocol_state": "END-OF-MESSAGE",
            "protocol_name": "ESMTP",
            "client_address": session.peer[0],
            "sender": envelope.mail_from or "",
            "recipient_count": len(envelope.rcpt_tos),
            "size": len(envelope.original_content or b""),
        }
        try:
            action = ask(self.policy, request)
        except OSError as error:
            # As Postfix does: nothing leaves unchecked, the sender retries.
            _logger.warning("mail policy service unreachable: %s", error)
            return "451 4.3.5 Server configuration problem: try again later"
        if action.upper() in (DUNNO, "OK"):
            return None
        verb, _, text = action.partition(" ")
        if verb.isdigit():
            return action
        return f"{'450 4.7.1' if verb.upper().startswith('DEFER') else '554 5.7.1'} {text or verb}"

    async def handle_DATA(self, server, session, envelope):
        loop = asyncio.get_running_loop()
        refused = await loop.run_in_executor(None, self.refusal, session, envelope)
        if refused:
            return refused
        answer = await super().handle_DATA(server, session, envelope)
        if self.runtime_url:
            await hand_over(self.runtime_url, self.key, envelope)
        return answer

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) not in (1, 2):
            parser.error("TenantGateway takes MAILDIR [RUNTIME_URL]")
        return cls(*args)


def delivery_reply(statuses):
    """The SMTP reply of an inbound gateway for the runtime's answers per
    recipient domain: taken when a tenant took it, refused when no tenant
    has such a domain, to be retried when a tenant could not take it now
    (suspended, in maintenance, the runtime down)."""
    codes = set(statuses.values())
    if codes - {200, 404}:
        return "451 4.3.0 The recipient's database cannot take mail now: try again later"
    if 200 in codes:
        return "250 OK"
    return "550 5.1.2 No database on this platform takes mail for this domain"


class InboundGateway:
    """The cell's inbound mail gateway in production (docker-compose.yml
    "mail-in", the tenant hosts' MX): hands each message to the tenant of
    each recipient domain through the tenant runtime and keeps nothing. A
    message for no tenant is refused, one a tenant cannot take now is
    deferred (the sending MTA retries). The key: ``IPAI_MAIL_GATEWAY_KEY``.

        python -m aiosmtpd -n -l 0.0.0.0:25 -c mail_gateway.InboundGateway RUNTIME_URL
    """

    def __init__(self, runtime_url):
        self.runtime_url = runtime_url
        self.key = gateway_key()

    async def handle_DATA(self, server, session, envelope):
        try:
            statuses = await hand_over(self.runtime_url, self.key, envelope)
        except requests.RequestException as error:
            _logger.warning("the tenant runtime is unreachable: %s", error)
            return "451 4.3.0 The recipient's database cannot take mail now: try again later"
        return delivery_reply(statuses)

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 1:
            parser.error("InboundGateway takes RUNTIME_URL")
        return cls(*args)


if __name__ == "__main__":
    sys.exit("run through aiosmtpd: see this module's docstring")
