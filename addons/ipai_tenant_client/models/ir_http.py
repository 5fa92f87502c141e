import werkzeug.exceptions
from odoo import models
from odoo.exceptions import UserError
from odoo.http import request

# What a suspended workspace still serves: the assets its suspended page needs.
ALWAYS_SERVED = ("/web/static/", "/web/assets/", "/web/health", "/favicon.ico")


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _pre_dispatch(cls, rule, args):
        super()._pre_dispatch(rule, args)
        settings = request.env["ipai.tenant.settings"].sudo()
        if not settings._is_suspended() or request.httprequest.path.startswith(ALWAYS_SERVED):
            return
        # Open sessions stop working at their next request, logins never start.
        if rule.endpoint.routing.get("type") in ("json", "jsonrpc"):
            raise UserError(settings._suspended_message())
        page = request.env["ir.qweb"]._render(
            "ipai_tenant_client.suspended_page",
            {"message": settings._suspended_message(), "settings": settings._get()},
        )
        response = request.make_response(
            page, headers=[("Content-Type", "text/html; charset=utf-8")]
        )
        response.status_code = 503
        raise werkzeug.exceptions.HTTPException(response=response)
