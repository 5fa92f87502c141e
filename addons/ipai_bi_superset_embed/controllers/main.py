import json

from odoo import http
from odoo.exceptions import AccessError
from odoo.http import request

from ..models.ipai_bi_dashboard import token_response_fields
from ..superset_api import client

NO_STORE = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]


def _json(payload, status=200):
    return request.make_response(json.dumps(payload), headers=NO_STORE, status=status)


class BiDashboardController(http.Controller):
    @http.route(
        "/ipai_bi/dashboard/<int:dashboard_id>/guest_token",
        type="http",
        auth="user",
        methods=["GET"],
        readonly=True,
    )
    def guest_token(self, dashboard_id):
        """A Superset guest token for this user and dashboard, with this
        tenant's row-level-security clause. 403 when the user may not see the
        dashboard, 503/502 when Superset is down or refuses, within seconds."""
        # The user's own access rights and record rules decide, in
        # _issue_guest_token, before anything else.
        try:
            payload = request.env["ipai.bi.dashboard"].browse(dashboard_id)._issue_guest_token()
        except AccessError as exc:
            return _json({"error": str(exc)}, 403)
        except client.SupersetError as exc:
            return _json({"error": str(exc)}, exc.http_status)
        return _json(token_response_fields(payload))
