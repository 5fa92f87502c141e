"""Every shape of the REST API, declared once: the routes check requests
with them (api.endpoint) and openapi.py writes them into the document.
The serializers build the answers these shapes describe."""

from odoo.addons.ipai_platform_rules import jobs, lifecycle, naming
from odoo.addons.ipai_tenant_core.models.ipai_tenant import TENANT_TYPES
from odoo.addons.ipai_tenant_data_safety.models.ipai_tenant_job import (
    JOB_TYPES as DATA_SAFETY_JOB_TYPES,
)
from odoo.addons.ipai_tenant_engine.models.ipai_tenant_job import JOB_TYPES

from .schema import Array, Boolean, Enum, Integer, Number, Object, Param, Ref, String

MAX_PAGE = 200
IDEMPOTENCY_KEY_MAX = 255
# Every named shape, by its name under components/schemas.
COMPONENTS = {}


def component(name, shape):
    COMPONENTS[name] = shape
    return Ref(name=name, target=shape)


def _keys(selection):
    return tuple(key for key, _label in selection)


TEXT = String()
NULLABLE_TEXT = String(nullable=True)
URI = String(format="uri")
TENANT_CODE = String(
    pattern=naming.CODE_PATTERN.pattern,
    check=naming.code_problem,
    description="Names the database and host name; never changes.",
)
TENANT_TYPE = Enum(values=_keys(TENANT_TYPES))
TENANT_STATE = Enum(values=_keys(lifecycle.STATES))
NEW_TENANT_TYPES = tuple(kind for kind in TENANT_TYPE.values if kind != "platform_owner")

PROBLEM = component(
    "Problem",
    Object(
        description="Problem details (RFC 9457).",
        required={"type": TEXT, "title": TEXT, "status": Integer(), "detail": TEXT},
        optional={
            "instance": TEXT,
            "field": String(description="The request field at fault."),
        },
        additional=True,
    ),
)
DOMAIN = component(
    "Domain",
    Object(
        required={
            "name": TEXT,
            "verified": Boolean(),
            "verification_record": String(
                description="The DNS TXT record proving the domain; routed once verified."
            ),
        }
    ),
)
TENANT = component(
    "Tenant",
    Object(
        required={
            "code": TEXT,
            "name": TEXT,
            "type": TENANT_TYPE,
            "state": TENANT_STATE,
            "parent": NULLABLE_TEXT,
            "plan": TEXT,
            "url": NULLABLE_TEXT,
            "admin_email": NULLABLE_TEXT,
            "country": NULLABLE_TEXT,
            "industry": NULLABLE_TEXT,
            "trial_end": String(format="date", nullable=True),
            "busy": Boolean(description="A job is queued or running."),
            "domains": Array(items=DOMAIN),
            "links": Object(required={"self": URI}, additional=True),
        }
    ),
)
TENANT_LIST = component(
    "TenantList",
    Object(
        required={
            "items": Array(items=TENANT),
            "total": Integer(),
            "limit": Integer(),
            "offset": Integer(),
        }
    ),
)
STEP = component(
    "Step",
    Object(
        required={
            "sequence": Integer(),
            "name": TEXT,
            "label": TEXT,
            "state": Enum(values=("pending", "running", "done", "failed")),
            "duration": Number(nullable=True, description="Seconds."),
        }
    ),
)
MOMENT = String(format="date-time", nullable=True)
JOB = component(
    "Job",
    Object(
        required={
            "id": Integer(),
            "type": Enum(values=_keys(JOB_TYPES + DATA_SAFETY_JOB_TYPES)),
            "state": Enum(values=_keys(jobs.STATES)),
            "tenant": TEXT,
            "progress": Number(minimum=0, maximum=100),
            "current_step": NULLABLE_TEXT,
            "error": NULLABLE_TEXT,
            "attempts": Integer(),
            "created_at": MOMENT,
            "started_at": MOMENT,
            "finished_at": MOMENT,
            "steps": Array(items=STEP),
            "links": Object(required={"self": URI, "tenant": URI}, additional=True),
        }
    ),
)
ACCEPTED = component(
    "Accepted",
    Object(required={"tenant": TENANT, "job": Ref(name="Job", target=JOB, nullable=True)}),
)
BACKUP = component(
    "Backup",
    Object(
        required={
            "id": Integer(),
            "tenant": TEXT,
            "kind": TEXT,
            "taken_at": String(format="date-time"),
            "size_mb": Number(minimum=0),
            "restore_test": Enum(values=("untested", "passed", "failed")),
            "exported": Boolean(
                description="Its Odoo backup zip is written and may be downloaded."
            ),
            "links": Object(required={"export": URI}, additional=True),
        }
    ),
)
BACKUP_LIST = component("BackupList", Object(required={"items": Array(items=BACKUP)}))
PLAN = component(
    "Plan",
    Object(
        required={
            "code": TEXT,
            "name": TEXT,
            "currency": TEXT,
            "price_monthly": Number(),
            "price_annual": Number(),
            "trial_days": Integer(),
            "limits": Object(
                required={
                    "companies": Integer(),
                    "users": Integer(),
                    "api_rate_limit": Integer(
                        description="Requests per minute of its tenants' API keys."
                    ),
                },
                optional={
                    "users_per_company": Integer(),
                    "transactions_month": Integer(),
                    "storage_gb": Number(),
                    "mails_day": Integer(
                        description="Recipients a tenant may send to per day (UTC) "
                        "through the platform's relay; 0: no limit."
                    ),
                },
                additional=True,
            ),
            "features": Object(additional=Boolean()),
        }
    ),
)
PLAN_LIST = component("PlanList", Object(required={"items": Array(items=PLAN)}))

TENANT_CREATE = component(
    "TenantCreate",
    Object(
        required={"code": TENANT_CODE},
        optional={
            "name": TEXT,
            "plan": String(default="trial"),
            "type": Enum(values=NEW_TENANT_TYPES, default="client"),
            "parent": String(
                description="Provider tenant's code; by default the one the caller "
                "administers (platform managers: none)."
            ),
            "admin_email": String(format="email"),
            "country": String(description="ISO 3166-1 alpha-2."),
            "industry": TEXT,
        },
    ),
)
TENANT_CHANGE = component(
    "TenantChange",
    Object(
        optional={
            "name": TEXT,
            "plan": String(description="Queues a change_plan job."),
            "domains": Array(
                items=TEXT,
                description="The tenant's custom domains, all of them (others are removed).",
            ),
        },
        min_properties=1,
    ),
)
CLONE_REQUEST = component(
    "CloneRequest",
    Object(
        required={"code": String(pattern=TENANT_CODE.pattern, check=TENANT_CODE.check)},
        optional={"name": TEXT, "with_data": Boolean(default=False)},
    ),
)

MOVE_REQUEST = component(
    "MoveRequest",
    Object(
        required={"server": String(min_length=1, description="The target server's name.")},
        optional={
            "grace_hours": Number(
                minimum=0,
                maximum=24 * 365,
                description="How long the old database is kept (default: the platform's "
                "setting); 0 drops it once the move is done.",
            )
        },
    ),
)

# Path parameters, by the name of their variable in a route.
PATH_PARAMS = {
    "code": Param("code", "path", TEXT, required=True, description="The tenant's code."),
    "job_id": Param("job_id", "path", Integer(), required=True),
    "backup_id": Param("backup_id", "path", Integer(), required=True),
}
TENANT_FILTERS = (
    Param("state", "query", TENANT_STATE),
    Param("type", "query", TENANT_TYPE),
    Param("plan", "query", TEXT),
    Param("parent", "query", TEXT),
    Param("q", "query", TEXT),
    Param("limit", "query", Integer(minimum=1, maximum=MAX_PAGE, default=50)),
    Param("offset", "query", Integer(minimum=0, default=0)),
)
TENANT_IMPORT_PARAMS = (
    Param("code", "query", TENANT_CODE, required=True),
    Param("name", "query", TEXT),
    Param("plan", "query", String(default="trial")),
    Param(
        "parent",
        "query",
        String(
            description="Provider tenant's code; by default the one the caller administers "
            "(platform managers: none)."
        ),
    ),
    Param(
        "admin_email",
        "query",
        String(format="email", description="Its administrator's login in the imported database."),
    ),
)
IDEMPOTENCY_KEY = Param(
    "Idempotency-Key", "header", String(min_length=1, max_length=IDEMPOTENCY_KEY_MAX)
)
