"""The public status page on the platform's host: /status and /status.json."""

from odoo import http
from odoo.http import request

from ..models.status_report import status_report


class StatusPage(http.Controller):
    @http.route("/status", type="http", auth="public", methods=["GET"], sitemap=False)
    def status_page(self):
        return request.render("ipai_platform_status.status_page", status_report(request.env))

    @http.route("/status.json", type="http", auth="public", methods=["GET"], sitemap=False)
    def status_json(self):
        return request.make_json_response(status_report(request.env))
