"""/api/v1/plans: the plans a tenant can be created on or moved to."""

from odoo import http
from odoo.http import request

from .api import endpoint, json_response
from .serializers import plan_json


class PlansController(http.Controller):
    @endpoint("/plans", ["GET"])
    def list_plans(self):
        plans = request.env["ipai.tenant.plan"].search([])
        return json_response({"items": [plan_json(plan) for plan in plans]})
