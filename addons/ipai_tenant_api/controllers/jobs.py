"""/api/v1/jobs/<id>: a job's state and steps, for following an action."""

from odoo import http
from odoo.http import request

from .api import ApiError, endpoint, json_response, operation
from .serializers import job_json
from .shapes import JOB


class JobsController(http.Controller):
    @endpoint("/jobs/<int:job_id>", ["GET"])
    @operation(
        summary="Follow a job: its state and steps",
        description="Jobs are seen by members and stronger roles.",
        answers={200: (JOB, "The job.")},
        problems=(404,),
    )
    def get_job(self, job_id):
        # search, not browse: the record rules decide what the caller sees
        # (members and stronger roles see their subtree's jobs).
        job = request.env["ipai.tenant.job"].search([("id", "=", job_id)])
        if not job:
            raise ApiError(404, f"No job {job_id}.")
        return json_response(job_json(job))
