"""/api/v1/openapi.json: the OpenAPI 3.1 description of every route in
this folder (tests/test_api.py checks each route and schema against
real answers), and a problem details 404 for any other /api/v1 path."""

from odoo import http
from odoo.addons.ipai_platform_rules import jobs, lifecycle

from .api import PREFIX, ApiError, endpoint, json_response

NULLABLE_STRING = {"type": ["string", "null"]}


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _problems(*statuses):
    descriptions = {
        400: "Malformed request: bad JSON, unknown field, wrong type or parameter.",
        401: "No API key, or an unknown, expired or revoked one.",
        403: "The key's user may see the tenant but its role lacks this power, or the "
        "plan of the key's user's tenant does not include API access.",
        404: "No such tenant or job within the key's reach.",
        409: "The tenant's state or an open job does not allow it, or the code is taken.",
        422: "A field's value is refused (invalid code, unknown plan, reused Idempotency-Key).",
        429: "Over the key's rate limit; see Retry-After.",
    }
    answers = {
        str(status): {
            "description": descriptions[status],
            "content": {"application/problem+json": {"schema": _ref("Problem")}},
        }
        for status in statuses
    }
    if 429 in statuses:
        answers["429"]["headers"] = {
            "Retry-After": {
                "description": "Seconds until the key's next counting window.",
                "schema": {"type": "integer", "minimum": 1},
            }
        }
    return answers


def _json(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(name):
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


CODE_PARAM = {
    "name": "code",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "The tenant's code.",
}
# Every authenticated route may also answer 403: API access is a plan flag.
AUTHENTICATED = (401, 403, 429)


def _action(summary, description, extra=(), power="manager", immediate=False):
    done_at_once = (
        {"200": _json(_ref("Accepted"), "Done at once, no job needed (a draft).")}
        if immediate
        else {}
    )
    return {
        "post": {
            "summary": summary,
            "description": f"{description} Needs the role {power} or a stronger one.",
            "parameters": [CODE_PARAM],
            "responses": {
                **done_at_once,
                "202": _json(_ref("Accepted"), "Queued; follow the job."),
                **_problems(*AUTHENTICATED, 403, 404, 409, *extra),
            },
        }
    }


SCHEMAS = {
    "Problem": {
        "type": "object",
        "description": "Problem details (RFC 9457).",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "field": {"type": "string", "description": "The request field at fault."},
        },
    },
    "Domain": {
        "type": "object",
        "required": ["name", "verified", "verification_record"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string"},
            "verified": {"type": "boolean"},
            "verification_record": {
                "type": "string",
                "description": "The DNS TXT record proving the domain; routed once verified.",
            },
        },
    },
    "Tenant": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "code",
            "name",
            "type",
            "state",
            "parent",
            "plan",
            "url",
            "admin_email",
            "country",
            "industry",
            "trial_end",
            "busy",
            "domains",
            "links",
        ],
        "properties": {
            "code": {"type": "string"},
            "name": {"type": "string"},
            "type": {"enum": ["platform_owner", "provider", "client", "internal"]},
            "state": {"enum": [state for state, _label in lifecycle.STATES]},
            "parent": NULLABLE_STRING,
            "plan": {"type": "string"},
            "url": NULLABLE_STRING,
            "admin_email": NULLABLE_STRING,
            "country": NULLABLE_STRING,
            "industry": NULLABLE_STRING,
            "trial_end": {"type": ["string", "null"], "format": "date"},
            "busy": {"type": "boolean", "description": "A job is queued or running."},
            "domains": {"type": "array", "items": _ref("Domain")},
            "links": {
                "type": "object",
                "required": ["self"],
                "properties": {"self": {"type": "string", "format": "uri"}},
            },
        },
    },
    "TenantList": {
        "type": "object",
        "additionalProperties": False,
        "required": ["items", "total", "limit", "offset"],
        "properties": {
            "items": {"type": "array", "items": _ref("Tenant")},
            "total": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
        },
    },
    "Step": {
        "type": "object",
        "additionalProperties": False,
        "required": ["sequence", "name", "label", "state", "duration"],
        "properties": {
            "sequence": {"type": "integer"},
            "name": {"type": "string"},
            "label": {"type": "string"},
            "state": {"enum": ["pending", "running", "done", "failed"]},
            "duration": {"type": ["number", "null"], "description": "Seconds."},
        },
    },
    "Job": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "id",
            "type",
            "state",
            "tenant",
            "progress",
            "current_step",
            "error",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
            "steps",
            "links",
        ],
        "properties": {
            "id": {"type": "integer"},
            "type": {
                "enum": [
                    "create",
                    "clone",
                    "suspend",
                    "reactivate",
                    "archive",
                    "drop",
                    "change_plan",
                    "upgrade",
                    "backup",
                ]
            },
            "state": {"enum": [state for state, _label in jobs.STATES]},
            "tenant": {"type": "string"},
            "progress": {"type": "number", "minimum": 0, "maximum": 100},
            "current_step": NULLABLE_STRING,
            "error": NULLABLE_STRING,
            "attempts": {"type": "integer"},
            "created_at": {"type": ["string", "null"], "format": "date-time"},
            "started_at": {"type": ["string", "null"], "format": "date-time"},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
            "steps": {"type": "array", "items": _ref("Step")},
            "links": {
                "type": "object",
                "required": ["self", "tenant"],
                "properties": {
                    "self": {"type": "string", "format": "uri"},
                    "tenant": {"type": "string", "format": "uri"},
                },
            },
        },
    },
    "Accepted": {
        "type": "object",
        "additionalProperties": False,
        "required": ["tenant", "job"],
        "properties": {
            "tenant": _ref("Tenant"),
            "job": {"oneOf": [_ref("Job"), {"type": "null"}]},
        },
    },
    "Plan": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "code",
            "name",
            "currency",
            "price_monthly",
            "price_annual",
            "trial_days",
            "limits",
            "features",
        ],
        "properties": {
            "code": {"type": "string"},
            "name": {"type": "string"},
            "currency": {"type": "string"},
            "price_monthly": {"type": "number"},
            "price_annual": {"type": "number"},
            "trial_days": {"type": "integer"},
            "limits": {
                "type": "object",
                "required": ["companies", "users", "api_rate_limit"],
                "properties": {
                    "companies": {"type": "integer"},
                    "users": {"type": "integer"},
                    "users_per_company": {"type": "integer"},
                    "transactions_month": {"type": "integer"},
                    "storage_gb": {"type": "number"},
                    "api_rate_limit": {
                        "type": "integer",
                        "description": "Requests per minute of its tenants' API keys.",
                    },
                },
            },
            "features": {
                "type": "object",
                "additionalProperties": {"type": "boolean"},
            },
        },
    },
    "PlanList": {
        "type": "object",
        "additionalProperties": False,
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": _ref("Plan")}},
    },
    "TenantCreate": {
        "type": "object",
        "additionalProperties": False,
        "required": ["code"],
        "properties": {
            "code": {
                "type": "string",
                "pattern": "^[a-z][a-z0-9-]{1,29}$",
                "description": "Names the database and host name; never changes.",
            },
            "name": {"type": "string"},
            "plan": {"type": "string", "default": "trial"},
            "type": {"enum": ["client", "provider", "internal"], "default": "client"},
            "parent": {
                "type": "string",
                "description": "Provider tenant's code; by default the one the caller "
                "administers (platform managers: none).",
            },
            "admin_email": {"type": "string", "format": "email"},
            "country": {"type": "string", "description": "ISO 3166-1 alpha-2."},
            "industry": {"type": "string"},
        },
    },
    "TenantChange": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "name": {"type": "string"},
            "plan": {"type": "string", "description": "Queues a change_plan job."},
            "domains": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The tenant's custom domains, all of them (others are removed).",
            },
        },
    },
    "CloneRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["code"],
        "properties": {
            "code": {"type": "string", "pattern": "^[a-z][a-z0-9-]{1,29}$"},
            "name": {"type": "string"},
            "with_data": {"type": "boolean", "default": False},
        },
    },
}

PATHS = {
    "/tenants": {
        "get": {
            "summary": "List the tenants within the key's reach",
            "parameters": [
                {"name": name, "in": "query", "required": False, "schema": schema}
                for name, schema in (
                    ("state", SCHEMAS["Tenant"]["properties"]["state"]),
                    ("type", SCHEMAS["Tenant"]["properties"]["type"]),
                    ("plan", {"type": "string"}),
                    ("parent", {"type": "string"}),
                    ("q", {"type": "string"}),
                    ("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
                    ("offset", {"type": "integer", "minimum": 0, "default": 0}),
                )
            ],
            "responses": {
                "200": _json(_ref("TenantList"), "A page of tenants, ordered by code."),
                **_problems(*AUTHENTICATED, 400),
            },
        },
        "post": {
            "summary": "Create a tenant and queue its provisioning",
            "description": "Needs the role administrator or a stronger one on the parent. "
            "With an Idempotency-Key header, a retry of the same request returns the "
            "first answer (header Idempotent-Replayed: true) for 24 hours.",
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                }
            ],
            "requestBody": _body("TenantCreate"),
            "responses": {
                "202": _json(_ref("Accepted"), "Created; the create job is queued."),
                **_problems(*AUTHENTICATED, 400, 403, 409, 422),
            },
        },
    },
    "/tenants/{code}": {
        "get": {
            "summary": "Read a tenant",
            "parameters": [CODE_PARAM],
            "responses": {
                "200": _json(_ref("Tenant"), "The tenant."),
                **_problems(*AUTHENTICATED, 404),
            },
        },
        "patch": {
            "summary": "Change a tenant's name, plan or custom domains",
            "description": "Needs the role manager or a stronger one.",
            "parameters": [CODE_PARAM],
            "requestBody": _body("TenantChange"),
            "responses": {
                "200": _json(_ref("Accepted"), "Changed; no job was needed."),
                "202": _json(_ref("Accepted"), "Changed; a change_plan job is queued."),
                **_problems(*AUTHENTICATED, 400, 403, 404, 409, 422),
            },
        },
    },
    "/tenants/{code}/suspend": _action("Suspend a tenant", "Its users are locked out."),
    "/tenants/{code}/reactivate": _action(
        "Reactivate a suspended tenant", "Not one the platform suspended."
    ),
    "/tenants/{code}/archive": _action(
        "Archive a tenant", "Back up, then drop its database.", power="owner", immediate=True
    ),
    "/tenants/{code}/drop": _action(
        "Drop a tenant", "Drop its database, roles and files without a backup.", power="owner"
    ),
    "/tenants/{code}/clone": {
        "post": {
            **_action("Clone a tenant", "A new tenant next to the source.", (400, 422))["post"],
            "requestBody": _body("CloneRequest"),
        }
    },
    "/jobs/{job_id}": {
        "get": {
            "summary": "Follow a job: its state and steps",
            "description": "Jobs are seen by members and stronger roles.",
            "parameters": [
                {"name": "job_id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "responses": {
                "200": _json(_ref("Job"), "The job."),
                **_problems(*AUTHENTICATED, 404),
            },
        }
    },
    "/plans": {
        "get": {
            "summary": "List the plans",
            "responses": {
                "200": _json(_ref("PlanList"), "Every active plan."),
                **_problems(*AUTHENTICATED),
            },
        }
    },
}

DOCUMENT = {
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
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
}


class OpenApiController(http.Controller):
    @endpoint("/openapi.json", ["GET"], authenticated=False)
    def openapi(self):
        return json_response(DOCUMENT)

    @endpoint("/<path:unknown>", None, authenticated=False)
    def not_found(self, unknown):
        raise ApiError(404, f"No API route {PREFIX}/{unknown}; see {PREFIX}/openapi.json.")
