"""/api/v1/tenants: list, create (or import from an Odoo backup), read,
change and act on tenants, as the key's user, through the same methods as
the tenant form's buttons."""

import hashlib
import json
import tempfile

from odoo import http
from odoo.addons.ipai_platform_rules import naming
from odoo.addons.ipai_tenant_core.models.ipai_tenant_domain import normalize
from odoo.http import request

from .api import ApiError, endpoint, json_body, json_response, operation, url
from .serializers import accepted_json, tenant_json
from .shapes import (
    ACCEPTED,
    CLONE_REQUEST,
    IDEMPOTENCY_KEY,
    MOVE_REQUEST,
    TENANT,
    TENANT_CHANGE,
    TENANT_CREATE,
    TENANT_FILTERS,
    TENANT_IMPORT_PARAMS,
    TENANT_LIST,
)

# The tenant field each filter of the list reads (q searches code and name).
FILTERED_FIELDS = {
    "state": "state",
    "type": "tenant_type",
    "plan": "plan_id.code",
    "parent": "parent_id.code",
}


def tenant_action(summary, description, power="manager", immediate=False, **more):
    """The @operation of a button of the tenant form as a route."""
    done_at_once = {200: (ACCEPTED, "Done at once, no job needed (a draft).")} if immediate else {}
    return operation(
        summary=summary,
        description=f"{description} Needs the role {power} or a stronger one.",
        answers={**done_at_once, 202: (ACCEPTED, "Queued; follow the job.")},
        problems=(403, 404, 409),
        **more,
    )


def find_tenant(code):
    """The tenant ``code`` as the caller sees it: one outside their reach
    is as unknown as one that does not exist."""
    tenant = request.env["ipai.tenant"].search([("code", "=", code)], limit=1)
    if not tenant:
        raise ApiError(404, f"No tenant with code '{code}'.")
    return tenant


def find_plan(code):
    plan = request.env["ipai.tenant.plan"].search([("code", "=", code)], limit=1)
    if not plan:
        raise ApiError(422, f"No plan with code '{code}'.", field="plan")
    return plan


def latest_job(tenant, before_id):
    """The job the action just queued, if it queued one."""
    job = tenant.job_ids.sorted("id")[-1:]
    return job if job and job.id > before_id else job.browse()


def accepted(tenant, job, created=False):
    headers = {"Location": url(f"/jobs/{job.id}")} if job else {}
    if created and not job:
        headers = {"Location": url(f"/tenants/{tenant.code}")}
    return json_response(accepted_json(tenant, job), 202 if job else 200, headers)


def act_on_tenant(code, action):
    """A button of the tenant form pressed through the API: the answer is
    the job it queued, if any."""
    tenant = find_tenant(code)
    before = tenant.job_ids[:1].id
    getattr(tenant, action)()
    return accepted(tenant, latest_job(tenant, before))


class TenantsController(http.Controller):
    @endpoint("/tenants", ["GET"])
    @operation(
        summary="List the tenants within the key's reach",
        params=TENANT_FILTERS,
        answers={200: (TENANT_LIST, "A page of tenants, ordered by code.")},
    )
    def list_tenants(self, params):
        limit, offset = params.pop("limit"), params.pop("offset")
        domain = [
            (FILTERED_FIELDS[name], "=", value) for name, value in params.items() if name != "q"
        ]
        if "q" in params:
            domain += ["|", ("code", "ilike", params["q"]), ("name", "ilike", params["q"])]
        tenants = request.env["ipai.tenant"]
        found = tenants.search(domain, limit=limit, offset=offset, order="code")
        return json_response(
            {
                "items": [tenant_json(tenant) for tenant in found],
                "total": tenants.search_count(domain),
                "limit": limit,
                "offset": offset,
            }
        )

    @endpoint("/tenants", ["POST"])
    @operation(
        summary="Create a tenant and queue its provisioning",
        description="Needs the role administrator or a stronger one on the parent. "
        "With an Idempotency-Key header, a retry of the same request returns the "
        "first answer (header Idempotent-Replayed: true) for 24 hours.",
        params=(IDEMPOTENCY_KEY,),
        body=TENANT_CREATE,
        answers={202: (ACCEPTED, "Created; the create job is queued.")},
        problems=(403, 409),
    )
    def create_tenant(self, params, body):
        idempotency_key = params.get(IDEMPOTENCY_KEY.name)
        if idempotency_key is not None:
            # The body as sent: a retry must send the same one.
            digest = hashlib.sha256(
                json.dumps(json_body(), sort_keys=True).encode() + request.httprequest.path.encode()
            ).hexdigest()
            store = request.env["ipai.api.idempotency"].sudo()
            earlier = store._claim(request.env.uid, idempotency_key, digest)
            if earlier:
                if earlier[0] != digest:
                    raise ApiError(
                        422,
                        "This Idempotency-Key was used for a different request; "
                        "use a new key for a new request.",
                    )
                status, response = earlier[1], earlier[2]
                location = (response.get("job") or {}).get("links", {}).get("self")
                headers = {"Idempotent-Replayed": "true"}
                if location:
                    headers["Location"] = location
                return json_response(response, status, headers)
        tenant, job = self._create(body)
        result = accepted(tenant, job, created=True)
        if idempotency_key is not None:
            store._store(
                request.env.uid, idempotency_key, result.status_code, json.loads(result.data)
            )
        return result

    def _create(self, values):
        tenant = request.env["ipai.tenant"].create(self._new_tenant_values(values))
        tenant.action_provision()
        return tenant, latest_job(tenant, 0)

    @endpoint("/tenants/import", ["POST"])
    @operation(
        summary="Create a tenant from a customer's Odoo 18 backup zip",
        description=(
            "The body is Odoo's own backup zip (the database manager's Backup, or "
            "`odoo-bin db dump`), at most 128 MiB. It is checked against the new "
            "tenant's plan before anything is made: Odoo 18, its modules within the "
            "plan, its size within the plan's storage, its dump nothing but what "
            "pg_dump writes. A refusal (422) leaves nothing. The import job loads it "
            "as the tenant's own role and leaves the source's passwords, keys and mail "
            "servers out; its administrator gets a new password. Needs the role "
            "administrator or a stronger one on the parent."
        ),
        params=TENANT_IMPORT_PARAMS,
        upload="application/zip",
        answers={202: (ACCEPTED, "Checked and created; the import job is queued.")},
        problems=(403, 409),
    )
    def import_tenant(self, params):
        values = self._new_tenant_values({**params, "type": "client"})
        with tempfile.NamedTemporaryFile(suffix=".zip") as upload:
            # Odoo hands a route its body whole, up to its 128 MiB request
            # limit; a larger database comes through `make import-tenant`.
            upload.write(request.httprequest.get_data(cache=False))
            upload.flush()
            tenant = request.env["ipai.tenant"]._import_odoo_backup(upload.name, values)
        return accepted(tenant, latest_job(tenant, 0), created=True)

    def _new_tenant_values(self, values):
        """A new tenant's fields from a request's ``values``, or the 422/409
        that says what is wrong with them."""
        Tenant = request.env["ipai.tenant"]
        code = values["code"]
        problem = naming.code_problem(code, request.env.cr.dbname, Tenant._name_prefixes()[0])
        if problem:
            raise ApiError(422, problem, field="code")
        problem = Tenant._new_code_problem(code)
        if problem:
            raise ApiError(409, problem, field="code")
        plan = find_plan(values["plan"])
        parent = self._parent(values.get("parent"))
        country = request.env["res.country"]
        if values.get("country"):
            country = country.search([("code", "=", values["country"].upper())], limit=1)
            if not country:
                raise ApiError(422, f"Unknown country code '{values['country']}'.", field="country")
        return {
            "code": code,
            "name": values.get("name") or code,
            "tenant_type": values["type"],
            "plan_id": plan.id,
            "parent_id": parent.id,
            "admin_email": values.get("admin_email"),
            "country_id": country.id,
            "industry": values.get("industry"),
        }

    def _parent(self, code):
        """The provider a new tenant goes under: the one named, or the only
        one the caller administers; platform managers may make top-level
        tenants."""
        if code:
            parent = request.env["ipai.tenant"].search([("code", "=", code)], limit=1)
            if not parent:
                raise ApiError(422, f"No tenant with code '{code}'.", field="parent")
            return parent
        if request.env["ipai.tenant"]._is_platform_manager():
            return request.env["ipai.tenant"]
        administered = request.env.user.ipai_administered_tenant_ids
        if len(administered) != 1:
            raise ApiError(422, "Name the provider tenant: 'parent'.", field="parent")
        return administered

    @endpoint("/tenants/<string:code>", ["GET"])
    @operation(
        summary="Read a tenant",
        answers={200: (TENANT, "The tenant.")},
        problems=(404,),
    )
    def get_tenant(self, code):
        return json_response(tenant_json(find_tenant(code)))

    @endpoint("/tenants/<string:code>", ["PATCH"])
    @operation(
        summary="Change a tenant's name, plan or custom domains",
        description="Needs the role manager or a stronger one.",
        body=TENANT_CHANGE,
        answers={
            200: (ACCEPTED, "Changed; no job was needed."),
            202: (ACCEPTED, "Changed; a change_plan job is queued."),
        },
        problems=(403, 404, 409),
    )
    def change_tenant(self, code, body):
        tenant = find_tenant(code)
        before = tenant.job_ids[:1].id
        if "name" in body:
            tenant.write({"name": body["name"]})
        if "domains" in body:
            self._set_domains(tenant, body["domains"])
        if "plan" in body:
            plan = find_plan(body["plan"])
            if plan != tenant.plan_id:
                tenant._change_plan(plan)
        return accepted(tenant, latest_job(tenant, before))

    def _set_domains(self, tenant, names):
        wanted = {normalize(name) for name in names}
        existing = tenant.domain_ids
        names = set(existing.mapped("name"))
        existing.filtered(lambda d: d.name not in wanted).unlink()
        for name in sorted(wanted - names):
            request.env["ipai.tenant.domain"].create({"tenant_id": tenant.id, "name": name})
        tenant.invalidate_recordset(["domain_ids"])

    @endpoint("/tenants/<string:code>/suspend", ["POST"])
    @tenant_action("Suspend a tenant", "Its users are locked out.")
    def suspend(self, code):
        return act_on_tenant(code, "action_suspend")

    @endpoint("/tenants/<string:code>/reactivate", ["POST"])
    @tenant_action("Reactivate a suspended tenant", "Not one the platform suspended.")
    def reactivate(self, code):
        return act_on_tenant(code, "action_reactivate")

    @endpoint("/tenants/<string:code>/archive", ["POST"])
    @tenant_action(
        "Archive a tenant", "Back up, then drop its database.", power="owner", immediate=True
    )
    def archive(self, code):
        return act_on_tenant(code, "action_archive_tenant")

    @endpoint("/tenants/<string:code>/drop", ["POST"])
    @tenant_action(
        "Drop a tenant", "Drop its database, roles and files without a backup.", power="owner"
    )
    def drop(self, code):
        return act_on_tenant(code, "action_drop")

    @endpoint("/tenants/<string:code>/move", ["POST"])
    @operation(
        summary="Move a tenant to another database server",
        description="Platform managers only. The move_server job copies the database there "
        "(the tenant is in maintenance meanwhile), switches and checks it; the old database "
        "is dropped after the grace.",
        body=MOVE_REQUEST,
        answers={202: (ACCEPTED, "Queued; follow the job.")},
        problems=(403, 404, 409, 422),
    )
    def move(self, code, body):
        tenant = find_tenant(code)
        before = tenant.job_ids[:1].id
        tenant.action_move_to_server(body["server"], grace_hours=body.get("grace_hours"))
        return accepted(tenant, latest_job(tenant, before))

    @endpoint("/tenants/<string:code>/clone", ["POST"])
    @tenant_action("Clone a tenant", "A new tenant next to the source.", body=CLONE_REQUEST)
    def clone(self, code, body):
        source = find_tenant(code)
        Tenant = request.env["ipai.tenant"]
        problem = naming.code_problem(
            body["code"], request.env.cr.dbname, Tenant._name_prefixes()[0]
        )
        if problem:
            raise ApiError(422, problem, field="code")
        clone = source._clone(body["code"], body.get("name"), body["with_data"])
        return accepted(clone, latest_job(clone, 0), created=True)
