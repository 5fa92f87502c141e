"""/api/v1/plans: the plans a tenant can be created on or moved to."""

from odoo import http
from odoo.http import request

from .api import endpoint, json_response, operation
from .serializers import plan_json
from .shapes import PLAN_LIST


class PlansController(http.Controller):
    @endpoint("/plans", ["GET"])
    @operation(summary="List the plans", answers={200: (PLAN_LIST, "Every active plan.")})
    def list_plans(self):
        plans = request.env["ipai.tenant.plan"].search([])
        return json_response({"items": [plan_json(plan) for plan in plans]})
