"""Incoming mail: the cell's mail gateway hands a message to the tenant it is
addressed to, and Odoo's mail gateway (``mail.thread.message_process``)
routes it inside that tenant's database, as ``odoo-mailgate`` would: a
reply lands in the chatter of the record it answers, mail to an alias
creates what the alias says.

The gateway posts the raw message to ``/ipai/mail/inbound`` at the
recipient's host name: the runtime routes the request to that host's
database (http_routing), so a message reaches the tenant its address names
and no other. The request carries the gateway's signature of the host and
the message (credentials.mail_signature): an anonymous client, a tenant's
own server action or a gateway replaying a message to another host gets
403 and nothing is created. Only the tenant runtime serves it, and only for
an active tenant.
"""

import hmac
import json
import logging
import re

from odoo import SUPERUSER_ID, api, http
from odoo.http import request

from . import credentials, runtime_config
from .routing_map import ACTIVE, ROUTES, normalize_host

_logger = logging.getLogger(__name__)

INBOUND_PATH = "/ipai/mail/inbound"
MAX_MESSAGE_BYTES = 25 * 1024 * 1024  # what common mail servers accept
SIGNATURE = re.compile(r"[0-9a-f]{64}")


def _answer(status, **values):
    return request.make_response(
        json.dumps(values), headers=[("Content-Type", "application/json")], status=status
    )


def _signed_by_gateway(host, message):
    signature = request.httprequest.headers[credentials.MAIL_SIGNATURE_HEADER]
    expected = credentials.mail_signature(credentials.mail_gateway_key(), host, message)
    return bool(signature) and hmac.compare_digest(signature, expected)


class MailGateway(http.Controller):
    @http.route(
        INBOUND_PATH,
        type="http",
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def inbound(self):
        route = ROUTES.tenant(request.db) if request.db else None
        if runtime_config.mode() != runtime_config.TENANT or route is None:
            return _answer(404, error="not a tenant")
        if route.state != ACTIVE:
            # The gateway keeps it and tries again (as SMTP would, 4xx).
            return _answer(503, error=f"tenant {route.state}")
        signature = request.httprequest.headers.get(credentials.MAIL_SIGNATURE_HEADER, "")
        if not SIGNATURE.fullmatch(signature):
            # Refused before a byte of the body is read.
            return _answer(403, error="not signed by this cell's mail gateway")
        length = request.httprequest.content_length
        if length is None or length > MAX_MESSAGE_BYTES:
            # A chunked body has no length to judge: the gateway sends one.
            return _answer(413, error="message too large or of no stated length")
        message = request.httprequest.get_data(cache=False)
        host = normalize_host(request.httprequest.host)
        if not _signed_by_gateway(host, message):
            return _answer(403, error="not signed by this cell's mail gateway")
        env = api.Environment(request.env.cr, SUPERUSER_ID, {})
        try:
            thread_id = env["mail.thread"].message_process(False, message)
        except ValueError as exc:
            # No alias, no thread answered: Odoo's own bounce went out.
            _logger.info("incoming mail for %s refused: %s", request.db, exc)
            return _answer(422, error=str(exc))
        return _answer(200, thread_id=thread_id)
