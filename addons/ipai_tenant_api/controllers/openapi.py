"""/api/v1/openapi.json: the OpenAPI 3.1 description of every route in
this folder, written from the declarations the routes check their requests
with (@operation, shapes.py), and a problem details 404 for any other
/api/v1 path. tests/test_api.py checks each route and schema against real
answers."""

import functools

from odoo import http

from .api import OPERATIONS, PREFIX, ApiError, endpoint, json_response
from .shapes import COMPONENTS, PROBLEM

# What each problem status means, on every route that may answer it.
PROBLEMS = {
    400: "Malformed request: bad JSON, unknown field, wrong type or parameter.",
    401: "No API key, or an unknown, expired or revoked one.",
    403: "The key's user may see the tenant but its role lacks this power, or the "
    "plan of the key's user's tenant does not include API access.",
    404: "No such tenant or job within the key's reach.",
    409: "The tenant's state or an open job does not allow it, or the code is taken.",
    422: "A field's value is refused (invalid code, unknown plan, reused Idempotency-Key).",
    429: "Over the key's rate limit; see Retry-After.",
}
# Every authenticated route may also answer 403: API access is a plan flag.
AUTHENTICATED = (401, 403, 429)
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds until the key's next counting window.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def _json(shape, description, media_type="application/json"):
    return {"description": description, "content": {media_type: {"schema": shape.document()}}}


def _responses(operation):
    responses = {
        str(status): _json(shape, description)
        for status, (shape, description) in sorted(operation.answers.items())
    }
    if operation.download:
        responses["200"] = {
            "description": "The file.",
            "content": {operation.download: {"schema": {"type": "string", "format": "binary"}}},
        }
    statuses = set(operation.statuses()) | set(AUTHENTICATED if operation.authenticated else ())
    for status in sorted(statuses):
        responses[str(status)] = _json(PROBLEM, PROBLEMS[status], "application/problem+json")
    if 429 in statuses:
        responses["429"]["headers"] = RETRY_AFTER
    return responses


def _path_item(operation):
    item = {"summary": operation.summary}
    if operation.description:
        item["description"] = operation.description
    if operation.params:
        item["parameters"] = [param.document() for param in operation.params]
    if operation.body:
        item["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": operation.body.document()}},
        }
    if operation.upload:
        item["requestBody"] = {
            "required": True,
            "content": {operation.upload: {"schema": {"type": "string", "format": "binary"}}},
        }
    item["responses"] = _responses(operation)
    return item


@functools.cache
def document():
    """The document, written once per process: the routes are declared at
    import and never change afterwards."""
    paths = {}
    for (path, method), operation in OPERATIONS.items():
        paths.setdefault(path, {})[method] = _path_item(operation)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ipai control plane API",
            "version": "1.0.0",
            "description": "Tenants, their jobs and the plans of the ipai platform. "
            "Authenticate with 'Authorization: Bearer <API key>'; errors are problem "
            "details (RFC 9457). See docs/api.md.",
        },
        "servers": [{"url": PREFIX}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": {name: shape.document() for name, shape in COMPONENTS.items()},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


class OpenApiController(http.Controller):
    @endpoint("/openapi.json", ["GET"], authenticated=False)
    def openapi(self):
        return json_response(document())

    @endpoint("/<path:unknown>", None, authenticated=False)
    def not_found(self, unknown):
        raise ApiError(404, f"No API route {PREFIX}/{unknown}; see {PREFIX}/openapi.json.")
