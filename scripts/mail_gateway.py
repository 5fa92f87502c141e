"""The mail catcher's handler (scripts/mail_catcher.sh): keeps every message
in a Maildir, as aiosmtpd's Mailbox does, and hands each one addressed to a
tenant's host name to that tenant, as a cell's inbound mail gateway does.

For each recipient domain of a message, the raw message (with a
``Delivered-To`` line naming the recipients there, as an MTA adds) is posted
to the tenant runtime's ``/ipai/mail/inbound`` at that domain, signed with
the cell's mail gateway key (ipai_tenant_runtime/mail_gateway.py). The
runtime answers 404 for a domain that is no tenant's (mail to the outside
world, kept in the Maildir only).

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

KEY_VARIABLE = "IPAI_MAIL_GATEWAY_KEY"

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


class TenantGateway(Mailbox):
    def __init__(self, mail_dir, runtime_url=None):
        super().__init__(mail_dir)
        self.runtime_url = runtime_url
        self.key = gateway_key() if runtime_url else None

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        if self.runtime_url:
            await asyncio.get_running_loop().run_in_executor(
                None,
                deliver,
                self.runtime_url,
                self.key,
                envelope.rcpt_tos,
                envelope.original_content,
            )
        return answer

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) not in (1, 2):
            parser.error("TenantGateway takes MAILDIR [RUNTIME_URL]")
        return cls(*args)


if __name__ == "__main__":
    sys.exit("run through aiosmtpd: see this module's docstring")
