"""GET /metrics on the control plane, for Prometheus with the scrape token."""

import re

from odoo import SUPERUSER_ID, http
from odoo.addons.ipai_tenant_runtime import runtime_config
from odoo.http import request
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4

from ..metrics import exposition, token_matches

BEARER = re.compile(r"Bearer\s+(\S+)\s*", re.IGNORECASE)
# auth="none": Prometheus has no session; the bearer token is the whole
# check. Nothing to save, nothing to write.
SCRAPE = {"type": "http", "auth": "none", "methods": ["GET"], "save_session": False}


class PlatformMetrics(http.Controller):
    # Only the platform database has this addon, and the tenant runtime
    # never routes to it; the mode check keeps it that way should a tenant
    # runtime ever load the platform's registry.
    @http.route("/metrics", readonly=True, **SCRAPE)
    def metrics(self):
        if runtime_config.mode() == runtime_config.TENANT:
            return request.not_found()
        env = request.env(user=SUPERUSER_ID)
        match = BEARER.fullmatch(request.httprequest.headers.get("Authorization", ""))
        if not match or not token_matches(env, match.group(1)):
            return request.make_response(
                "", headers=[("WWW-Authenticate", 'Bearer realm="metrics"')], status=401
            )
        return request.make_response(
            exposition(env),
            headers=[("Content-Type", CONTENT_TYPE_PLAIN_0_0_4), ("Cache-Control", "no-store")],
        )
