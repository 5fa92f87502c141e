"""/api/v1/tenants: list, create, read, change and act on tenants, as the
key's user, through the same methods as the tenant form's buttons."""

import hashlib
import json

from odoo import http
from odoo.addons.ipai_platform_rules import lifecycle, naming
from odoo.addons.ipai_tenant_core.models.ipai_tenant import TENANT_TYPES
from odoo.addons.ipai_tenant_core.models.ipai_tenant_domain import normalize
from odoo.http import request

from .api import ApiError, endpoint, fields_of, json_body, json_response, page_args, url
from .serializers import accepted_json, tenant_json

CREATE_FIELDS = {
    "code": (str, True),
    "name": (str, False),
    "plan": (str, False),
    "type": (str, False),
    "parent": (str, False),
    "admin_email": (str, False),
    "country": (str, False),
    "industry": (str, False),
}
CHANGE_FIELDS = {"name": (str, False), "plan": (str, False), "domains": (list, False)}
CLONE_FIELDS = {"code": (str, True), "name": (str, False), "with_data": (bool, False)}
NEW_TENANT_TYPES = [kind for kind, _label in TENANT_TYPES if kind != "platform_owner"]
IDEMPOTENCY_KEY_MAX = 255


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


class TenantsController(http.Controller):
    @endpoint("/tenants", ["GET"])
    def list_tenants(self):
        args = request.httprequest.args
        limit, offset = page_args()
        domain = []
        if args.get("state"):
            if args["state"] not in lifecycle.STATE_LABELS:
                raise ApiError(400, f"Unknown state '{args['state']}'.")
            domain.append(("state", "=", args["state"]))
        if args.get("type"):
            if args["type"] not in dict(TENANT_TYPES):
                raise ApiError(400, f"Unknown type '{args['type']}'.")
            domain.append(("tenant_type", "=", args["type"]))
        if args.get("plan"):
            domain.append(("plan_id.code", "=", args["plan"]))
        if args.get("parent"):
            domain.append(("parent_id.code", "=", args["parent"]))
        if args.get("q"):
            domain += ["|", ("code", "ilike", args["q"]), ("name", "ilike", args["q"])]
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
    def create_tenant(self):
        body = json_body()
        idempotency_key = request.httprequest.headers.get("Idempotency-Key")
        if idempotency_key is not None:
            if not 1 <= len(idempotency_key) <= IDEMPOTENCY_KEY_MAX:
                raise ApiError(400, f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} chars.")
            digest = hashlib.sha256(
                json.dumps(body, sort_keys=True).encode() + request.httprequest.path.encode()
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
        tenant, job = self._create(fields_of(body, CREATE_FIELDS))
        result = accepted(tenant, job, created=True)
        if idempotency_key is not None:
            store._store(
                request.env.uid, idempotency_key, result.status_code, json.loads(result.data)
            )
        return result

    def _create(self, values):
        Tenant = request.env["ipai.tenant"]
        code = values["code"]
        problem = naming.code_problem(code, request.env.cr.dbname, Tenant._name_prefixes()[0])
        if problem:
            raise ApiError(422, problem, field="code")
        problem = Tenant._new_code_problem(code)
        if problem:
            raise ApiError(409, problem, field="code")
        kind = values.get("type", "client")
        if kind not in NEW_TENANT_TYPES:
            raise ApiError(422, f"type must be one of {', '.join(NEW_TENANT_TYPES)}.", field="type")
        plan = find_plan(values.get("plan", "trial"))
        parent = self._parent(values.get("parent"))
        country = request.env["res.country"]
        if values.get("country"):
            country = country.search([("code", "=", values["country"].upper())], limit=1)
            if not country:
                raise ApiError(422, f"Unknown country code '{values['country']}'.", field="country")
        tenant = Tenant.create(
            {
                "code": code,
                "name": values.get("name") or code,
                "tenant_type": kind,
                "plan_id": plan.id,
                "parent_id": parent.id,
                "admin_email": values.get("admin_email"),
                "country_id": country.id,
                "industry": values.get("industry"),
            }
        )
        tenant.action_provision()
        return tenant, latest_job(tenant, 0)

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
    def get_tenant(self, code):
        return json_response(tenant_json(find_tenant(code)))

    @endpoint("/tenants/<string:code>", ["PATCH"])
    def change_tenant(self, code):
        values = fields_of(json_body(), CHANGE_FIELDS)
        if not values:
            raise ApiError(400, "Send at least one of name, plan, domains.")
        tenant = find_tenant(code)
        before = tenant.job_ids[:1].id
        if "name" in values:
            tenant.write({"name": values["name"]})
        if "domains" in values:
            self._set_domains(tenant, values["domains"])
        if "plan" in values:
            plan = find_plan(values["plan"])
            if plan != tenant.plan_id:
                tenant._change_plan(plan)
        return accepted(tenant, latest_job(tenant, before))

    def _set_domains(self, tenant, names):
        if not all(isinstance(name, str) for name in names):
            raise ApiError(400, "domains must be a list of host names.", field="domains")
        wanted = {normalize(name) for name in names}
        existing = tenant.domain_ids
        names = set(existing.mapped("name"))
        existing.filtered(lambda d: d.name not in wanted).unlink()
        for name in sorted(wanted - names):
            request.env["ipai.tenant.domain"].create({"tenant_id": tenant.id, "name": name})
        tenant.invalidate_recordset(["domain_ids"])

    def _act(self, code, action):
        tenant = find_tenant(code)
        before = tenant.job_ids[:1].id
        getattr(tenant, action)()
        return accepted(tenant, latest_job(tenant, before))

    @endpoint("/tenants/<string:code>/suspend", ["POST"])
    def suspend(self, code):
        return self._act(code, "action_suspend")

    @endpoint("/tenants/<string:code>/reactivate", ["POST"])
    def reactivate(self, code):
        return self._act(code, "action_reactivate")

    @endpoint("/tenants/<string:code>/archive", ["POST"])
    def archive(self, code):
        return self._act(code, "action_archive_tenant")

    @endpoint("/tenants/<string:code>/drop", ["POST"])
    def drop(self, code):
        return self._act(code, "action_drop")

    @endpoint("/tenants/<string:code>/clone", ["POST"])
    def clone(self, code):
        values = fields_of(json_body(), CLONE_FIELDS)
        source = find_tenant(code)
        Tenant = request.env["ipai.tenant"]
        problem = naming.code_problem(
            values["code"], request.env.cr.dbname, Tenant._name_prefixes()[0]
        )
        if problem:
            raise ApiError(422, problem, field="code")
        clone = source._clone(values["code"], values.get("name"), values.get("with_data", False))
        return accepted(clone, latest_job(clone, 0), created=True)
