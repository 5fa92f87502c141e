"""A tenant's workspace in Apache Superset, made through Superset's REST API.

A workspace is everything one tenant may embed, named after its code:

    database connection  ipai_<code>            the tenant's own read-only role,
                                                 on its analytics schema only
    datasets             <schema>.<table>        one per configured table or view
    chart                <table> (<code>)        a table chart per dataset
    dashboard            slug ipai_<code>_overview, embedded, allowed domains set
    service account      ipai_svc_<code>         may only ask for guest tokens;
                                                 owns the workspace's dashboards

Superset itself enforces the boundary (deploy/superset/superset_config.py,
GUEST_TOKEN_VALIDATOR_HOOK): a service account gets guest tokens only for the
dashboards it owns, with its own tenant's row-level-security clause.

Every function here is idempotent: it looks the object up by its natural key
first and creates only what is missing, so a rerun changes nothing that exists.
Plain Python: ``requests`` with explicit timeouts, ``urllib3`` Retry for
idempotent reads and refused connections only.
"""

import json
import logging
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import quote

import requests
from odoo.addons.ipai_platform_rules.analytics import (
    NotATenantCode,
    checked_code,
    dashboard_slug,
    service_username,
    workspace_name,
)
from odoo.addons.ipai_tenant_core.infra.errors import PermanentError, RetryableError
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

_logger = logging.getLogger(__name__)

# (connect, read) seconds: Superset answers its API in well under a second;
# a create may run a connection test against the tenant database.
TIMEOUT = (3.05, 30)
IDENTIFIER_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
ISSUER_ROLE = "ipai_guest_token_issuer"
# What a tenant's service account may do in Superset, and nothing more: ask for
# guest tokens, and list the dashboards it owns (its workspace) with their
# embedded uuids, so the tenant's Odoo can check a dashboard before embedding it.
ISSUER_PERMISSIONS = (
    ("can_grant_guest_token", "SecurityRestApi"),
    ("can_read", "Dashboard"),
    ("can_read", "EmbeddedDashboard"),
)


@dataclass
class WorkspaceSpec:
    code: str
    database_uri: str  # postgresql+psycopg2://role@host:port/db, without password
    database_password: str = field(repr=False)
    schema: str
    tables: tuple = ("sales",)
    allowed_domains: tuple = ()
    title: str = ""

    def __post_init__(self):
        try:
            checked_code(self.code)
        except NotATenantCode as exc:
            raise PermanentError(str(exc)) from exc
        for name in (self.schema, *self.tables):
            if not IDENTIFIER_PATTERN.match(name):
                raise PermanentError(f"{name!r} is not a plain lowercase SQL identifier.")


@dataclass
class WorkspaceResult:
    database_id: int = 0
    dataset_ids: dict = field(default_factory=dict)
    chart_ids: dict = field(default_factory=dict)
    dashboard_id: int = 0
    dashboard_slug: str = ""
    embedded_uuid: str = ""
    service_username: str = ""
    # Set only when this run created or reset the service account.
    service_password: str | None = field(default=None, repr=False)
    created: list = field(default_factory=list)

    @property
    def changed(self):
        return bool(self.created)


class SupersetApiError(PermanentError):
    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class SupersetApi:
    """A logged-in Superset REST client (JWT bearer plus CSRF token for writes)."""

    def __init__(self, url, username, password, timeout=TIMEOUT):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        retry = Retry(
            total=3,
            connect=3,
            read=2,
            status=2,
            backoff_factor=0.3,
            status_forcelist=(502, 503, 504),
            allowed_methods=frozenset({"GET", "HEAD"}),
        )
        self.session.mount(self.url, HTTPAdapter(max_retries=retry))
        token = self._call(
            "POST",
            "/api/v1/security/login",
            json={"username": username, "password": password, "provider": "db", "refresh": False},
        )["access_token"]
        self.session.headers["Authorization"] = f"Bearer {token}"
        # Superset's CSRF protection covers every write not in its exempt list;
        # the token is tied to the session cookie this GET sets.
        csrf = self._call("GET", "/api/v1/security/csrf_token/")["result"]
        self.session.headers.update({"X-CSRFToken": csrf, "Referer": self.url})

    def _call(self, method, path, **kwargs):
        try:
            response = self.session.request(method, self.url + path, timeout=self.timeout, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetryableError(f"Superset at {self.url} is unreachable: {exc}") from exc
        if response.status_code >= 500:
            raise RetryableError(
                f"Superset {method} {path}: HTTP {response.status_code} {response.text[:300]}"
            )
        if response.status_code >= 400:
            raise SupersetApiError(
                f"Superset {method} {path}: HTTP {response.status_code} {response.text[:300]}",
                response.status_code,
            )
        return response.json() if response.content else {}

    def get(self, path, **params):
        return self._call("GET", path, params=params or None)

    def post(self, path, payload):
        return self._call("POST", path, json=payload)

    def put(self, path, payload):
        return self._call("PUT", path, json=payload)

    def delete(self, path):
        return self._call("DELETE", path)

    def find(self, resource, filters, columns=("id",)):
        """Rows of ``/api/v1/<resource>/`` matching every (column, operator, value)."""
        query = {
            "filters": [{"col": col, "opr": opr, "value": value} for col, opr, value in filters],
            "columns": list(columns),
            "page_size": 100,
        }
        return self.get(f"/api/v1/{resource}/", q=_rison(query))["result"]


def _rison(value):
    """The subset of Rison (Superset's query-string JSON) these queries use."""
    if isinstance(value, dict):
        return "(" + ",".join(f"{key}:{_rison(item)}" for key, item in value.items()) + ")"
    if isinstance(value, (list, tuple)):
        return "!(" + ",".join(_rison(item) for item in value) + ")"
    if isinstance(value, bool):
        return "!t" if value else "!f"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_./~-]*", text):
        return text
    return "'" + text.replace("!", "!!").replace("'", "!'") + "'"


# ------------------------------------------------------------------ steps


def ensure_issuer_role(api, result):
    rows = api.find("security/roles", [("name", "eq", ISSUER_ROLE)], ("id", "name"))
    if rows:
        role_id = rows[0]["id"]
    else:
        role_id = api.post("/api/v1/security/roles/", {"name": ISSUER_ROLE})["id"]
        result.created.append(f"role {ISSUER_ROLE}")
    wanted = []
    for permission, view in ISSUER_PERMISSIONS:
        permission_ids = api.find("security/permissions", [("name", "eq", permission)])
        view_ids = api.find("security/resources", [("name", "eq", view)])
        found = (
            permission_ids
            and view_ids
            and api.find(
                "security/permissions-resources",
                [
                    ("permission", "rel_o_m", permission_ids[0]["id"]),
                    ("view_menu", "rel_o_m", view_ids[0]["id"]),
                ],
            )
        )
        if not found:
            raise PermanentError(f"Superset has no permission {permission} on {view}.")
        wanted.append(found[0]["id"])
    current = {
        row["id"] for row in api.get(f"/api/v1/security/roles/{role_id}/permissions/")["result"]
    }
    if not set(wanted) <= current:
        api.post(
            f"/api/v1/security/roles/{role_id}/permissions",
            {"permission_view_menu_ids": sorted(current | set(wanted))},
        )
        result.created.append(f"permissions of {ISSUER_ROLE}")
    return role_id


def ensure_service_user(api, spec, role_id, result, reset_password=False):
    """The tenant's service account; its password is only known when this run
    creates the account or is asked to reset it (the tenant lost it)."""
    username = service_username(spec.code)
    result.service_username = username
    rows = api.find("security/users", [("username", "eq", username)], ("id", "username"))
    if rows and not reset_password:
        return rows[0]["id"]
    password = secrets.token_urlsafe(24)
    values = {
        "first_name": "ipai",
        "last_name": spec.code,
        "email": f"{username}@ipai.invalid",
        "active": True,
        "password": password,
        "roles": [role_id],
    }
    if rows:
        user_id = rows[0]["id"]
        api.put(f"/api/v1/security/users/{user_id}", values)
        result.created.append(f"new password for {username}")
    else:
        user_id = api.post("/api/v1/security/users/", {"username": username, **values})["id"]
        result.created.append(f"service account {username}")
    result.service_password = password
    return user_id


def ensure_database(api, spec, result, reset_password=False):
    """The tenant's database connection. ``reset_password``: the tenant's
    database (and so its read-only role) is new, as after a failed create
    was undone and retried: an existing connection would still hold the old
    role's password, so it gets the current one."""
    name = workspace_name(spec.code)
    rows = api.find("database", [("database_name", "eq", name)], ("id", "database_name"))
    if rows:
        result.database_id = rows[0]["id"]
        if reset_password:
            api.put(
                f"/api/v1/database/{result.database_id}",
                {"sqlalchemy_uri": _with_password(spec.database_uri, spec.database_password)},
            )
            result.created.append(f"new password for database connection {name}")
        return
    payload = {
        "database_name": name,
        "sqlalchemy_uri": _with_password(spec.database_uri, spec.database_password),
        "expose_in_sqllab": False,
        "allow_ctas": False,
        "allow_cvas": False,
        "allow_dml": False,
        "allow_file_upload": False,
        # Analytics only ever read the tenant's analytics schema.
        "extra": json.dumps(
            {
                "schemas_allowed_for_file_upload": [],
                "engine_params": {
                    "connect_args": {
                        "options": f"-c search_path={spec.schema} "
                        "-c default_transaction_read_only=on"
                    }
                },
            }
        ),
    }
    result.database_id = api.post("/api/v1/database/", payload)["id"]
    result.created.append(f"database connection {name}")


def _with_password(uri, password):
    """The URI Superset stores (it encrypts the password with its SECRET_KEY
    and masks it in every answer); ours never holds the password."""
    scheme, rest = uri.split("://", 1)
    userinfo, host = rest.split("@", 1)
    return f"{scheme}://{userinfo}:{quote(password, safe='')}@{host}"


def ensure_datasets(api, spec, result):
    for table in spec.tables:
        rows = api.find(
            "dataset",
            [
                ("table_name", "eq", table),
                ("schema", "eq", spec.schema),
                ("database", "rel_o_m", result.database_id),
            ],
            ("id", "table_name"),
        )
        if rows:
            result.dataset_ids[table] = rows[0]["id"]
            continue
        result.dataset_ids[table] = api.post(
            "/api/v1/dataset/",
            {"database": result.database_id, "schema": spec.schema, "table_name": table},
        )["id"]
        result.created.append(f"dataset {spec.schema}.{table}")


def ensure_dashboard(api, spec, owner_ids, result):
    slug = dashboard_slug(spec.code)
    result.dashboard_slug = slug
    rows = api.find("dashboard", [("slug", "eq", slug)], ("id", "slug"))
    if rows:
        result.dashboard_id = rows[0]["id"]
    else:
        result.dashboard_id = api.post(
            "/api/v1/dashboard/",
            {
                "dashboard_title": spec.title or f"{spec.code} overview",
                "slug": slug,
                "published": True,
                "owners": owner_ids,
            },
        )["id"]
        result.created.append(f"dashboard {slug}")
    for table, dataset_id in result.dataset_ids.items():
        name = f"{table} ({spec.code})"
        found = api.find(
            "chart",
            [("slice_name", "eq", name), ("datasource_id", "eq", dataset_id)],
            ("id", "slice_name"),
        )
        if found:
            result.chart_ids[table] = found[0]["id"]
            continue
        columns = api.get(f"/api/v1/dataset/{dataset_id}", q="(columns:!(columns.column_name))")[
            "result"
        ]["columns"]
        params = {
            "datasource": f"{dataset_id}__table",
            "viz_type": "table",
            "query_mode": "raw",
            "all_columns": [column["column_name"] for column in columns],
            "row_limit": 1000,
        }
        result.chart_ids[table] = api.post(
            "/api/v1/chart/",
            {
                "slice_name": name,
                "viz_type": "table",
                "datasource_id": dataset_id,
                "datasource_type": "table",
                "params": json.dumps(params),
                "dashboards": [result.dashboard_id],
                "owners": owner_ids,
            },
        )["id"]
        result.created.append(f"chart {name}")


def ensure_embedded(api, spec, result):
    wanted = sorted(set(spec.allowed_domains))
    try:
        current = api.get(f"/api/v1/dashboard/{result.dashboard_id}/embedded")["result"]
    except SupersetApiError as exc:
        if exc.status != 404:
            raise
        current = None
    if current and sorted(current.get("allowed_domains") or []) == wanted:
        result.embedded_uuid = current["uuid"]
        return
    # POST creates the embedding or updates its domains, keeping its uuid.
    embedded = api.post(
        f"/api/v1/dashboard/{result.dashboard_id}/embedded", {"allowed_domains": wanted}
    )["result"]
    result.embedded_uuid = embedded["uuid"]
    result.created.append(
        "embedding" if current is None else f"allowed domains {', '.join(wanted) or '(any)'}"
    )


def ensure_workspace(api, spec, reset_service_password=False, reset_database_password=False):
    """Create whatever of ``spec``'s workspace is missing; a rerun is a no-op."""
    result = WorkspaceResult()
    role_id = ensure_issuer_role(api, result)
    service_id = ensure_service_user(api, spec, role_id, result, reset_service_password)
    ensure_database(api, spec, result, reset_database_password)
    ensure_datasets(api, spec, result)
    admin_id = api.get("/api/v1/me/")["result"]["id"]
    ensure_dashboard(api, spec, sorted({service_id, admin_id}), result)
    ensure_embedded(api, spec, result)
    _logger.info(
        "Superset workspace of %s: %s",
        spec.code,
        ", ".join(result.created) if result.created else "unchanged",
    )
    return result


def remove_workspace(api, code):
    """Delete a tenant's workspace (dashboard, charts, datasets, connection,
    service account). Used when a tenant is dropped, and by the tests."""
    slug = dashboard_slug(code)
    for row in api.find("dashboard", [("slug", "eq", slug)]):
        for chart in api.get(f"/api/v1/dashboard/{row['id']}/charts")["result"]:
            api.delete(f"/api/v1/chart/{chart['id']}")
        api.delete(f"/api/v1/dashboard/{row['id']}")
    for row in api.find("database", [("database_name", "eq", workspace_name(code))]):
        for dataset in api.find("dataset", [("database", "rel_o_m", row["id"])]):
            api.delete(f"/api/v1/dataset/{dataset['id']}")
        api.delete(f"/api/v1/database/{row['id']}")
    for row in api.find("security/users", [("username", "eq", service_username(code))]):
        api.delete(f"/api/v1/security/users/{row['id']}")


# ------------------------------------------------------- tenant database

DEFAULT_TABLES = ("partners",)
TENANT_PARAM = "ipai_bi_superset_embed."


def ensure_partners_view(server, database, schema, role, code):
    """A first analytics relation every tenant has: its contacts, tagged with
    its code like every relation a workspace exposes (the guest tokens' RLS
    clause filters on tenant_code). The view runs with its owner's rights,
    so the tenant's read-only role needs no access to Odoo's own tables."""
    from psycopg2 import sql

    # Identifiers and the literal go through psycopg2.sql, which pylint-odoo
    # cannot tell from string formatting.
    # pylint: disable=sql-injection
    with server.connect(database) as conn, conn.cursor() as cr:
        cr.execute(
            "SELECT 1 FROM pg_views WHERE schemaname = %s AND viewname = 'partners'", [schema]
        )
        if cr.fetchone():
            return False
        cr.execute(
            sql.SQL(
                """CREATE VIEW {schema}.partners AS
                   SELECT {code}::text AS tenant_code, p.id, p.name, p.is_company,
                          c.code AS country, p.create_date
                     FROM public.res_partner p
                     LEFT JOIN public.res_country c ON c.id = p.country_id
                    WHERE p.active"""
            ).format(schema=sql.Identifier(schema), code=sql.Literal(code))
        )
        cr.execute(
            sql.SQL("GRANT SELECT ON {}.partners TO {}").format(
                sql.Identifier(schema), sql.Identifier(role)
            )
        )
    return True


def push_tenant_settings(
    server, database, code, url, public_url, result, password, current, cell=None
):
    """The tenant's Odoo settings (ipai_bi_superset_embed). The service
    ``password`` is sealed together with the address the tenant runtime
    logs in at (credentials.seal_for_database, under the tenant database's
    own key): the tenant can move its browsers' Superset address, never
    where its runtime sends the service login. Re-sealed only when the
    address or the password changed (or the stored token predates sealing).
    ``current``: the tenant's BI parameters as they are; ``cell``: the
    tenant's cell, whose nodes hold the key."""
    from odoo.addons.ipai_tenant_runtime import credentials

    from . import tenant_db

    params = {
        TENANT_PARAM + "superset_url": url,
        TENANT_PARAM + "public_url": public_url or "",
        TENANT_PARAM + "username": result.service_username,
        TENANT_PARAM + "workspace": workspace_name(code),
    }
    token = current.get(TENANT_PARAM + "password")
    sealed = credentials.open_for_database(database, token, cell)
    if sealed != {"url": url, "password": password}:
        params[TENANT_PARAM + "password"] = credentials.seal_for_database(
            database, cell, url=url, password=password
        )
    changed = {key: value for key, value in params.items() if current.get(key) != value}
    if changed:
        tenant_db.set_params(server, database, changed)
    return sorted(key[len(TENANT_PARAM) :] for key in changed)


def reseal_for_cell(tenant_side, database, old_cell, new_cell):
    """The service login sealed in the tenant database under ``old_cell``'s
    key, sealed again under ``new_cell``'s (a move between cells). False
    when there is none, or it is sealed for the new cell already."""
    from odoo.addons.ipai_tenant_runtime import credentials

    from . import tenant_db

    current = tenant_db.get_params(tenant_side, database, TENANT_PARAM)
    sealed = credentials.open_for_database(
        database, current.get(TENANT_PARAM + "password"), old_cell
    )
    if not sealed:
        return False
    token = credentials.seal_for_database(database, new_cell, **sealed)
    tenant_db.set_params(tenant_side, database, {TENANT_PARAM + "password": token})
    return True


def stored_service_password(database, token, cell=None):
    """The service password in ``token`` (the tenant database's parameter),
    if this platform can open it: sealed with its address, or a token from
    before sealing. None for a new database, or for a token the tenant
    replaced by its own."""
    from odoo.addons.ipai_tenant_runtime import credentials

    sealed = credentials.open_for_database(database, token, cell)
    if sealed is not None:
        return sealed.get("password") or None
    legacy = credentials.decrypt_for_database(database, token or "", cell)
    return legacy if legacy and not legacy.startswith("{") else None


def provision_tenant(env, tenant, server, tables=None, extra_domains=(), log=_logger.info):
    """``provision_workspace`` for a tenant record (the command line's
    scripts/superset_workspace.py)."""
    del env  # the record knows its environment
    return provision_workspace(
        tenant._engine_tenant_spec(),
        tenant._secret("db_role_password"),
        server,
        tables=tables,
        extra_domains=extra_domains,
        log=log,
    )


def provision_workspace(
    tenant, bi_password, server, tables=None, extra_domains=(), log=_logger.info
):
    """Everything a tenant's (a TenantSpec) dashboards need, idempotently:
    the analytics view, the Superset workspace, the tenant's Odoo settings.
    Superset's address and administrator come from the environment
    (SUPERSET_URL, SUPERSET_ADMIN_USERNAME, SUPERSET_ADMIN_PASSWORD)."""
    import os
    from urllib.parse import urlsplit

    from . import tenant_db
    from .runtime_access import as_role

    if not tenant.plan_has_bi:
        raise PermanentError(
            f"The plan {tenant.plan_code} of {tenant.code} has no embedded BI; "
            "change the plan first."
        )
    url = os.environ.get("SUPERSET_URL", "").rstrip("/")
    password = os.environ.get("SUPERSET_ADMIN_PASSWORD", "")
    if not (url and password):
        raise PermanentError(
            "Superset is not configured: set SUPERSET_URL and SUPERSET_ADMIN_PASSWORD "
            "(scripts/superset.sh env shows the local ones)."
        )
    tables = tuple(tables or DEFAULT_TABLES)
    schema, role, database = tenant.analytics_schema, tenant.db_role, tenant.database
    if "partners" in tables and ensure_partners_view(server, database, schema, role, tenant.code):
        log(f"created the analytics view {schema}.partners")
    public = urlsplit(tenant.url or "")
    domains = {f"{public.scheme}://{public.netloc}"} if public.netloc else set()
    spec = WorkspaceSpec(
        code=tenant.code,
        database_uri=f"postgresql+psycopg2://{role}@{server.host or '127.0.0.1'}:"
        f"{server.port or 5432}/{database}",
        database_password=bi_password or "",
        schema=schema,
        tables=tables,
        allowed_domains=tuple(sorted(domains | set(extra_domains))),
        title=f"{tenant.name} overview",
    )
    if not spec.database_password:
        raise PermanentError(f"Tenant {tenant.code} has no database role password.")
    api = SupersetApi(url, os.environ.get("SUPERSET_ADMIN_USERNAME", "admin"), password)
    # A tenant database without a BI password the platform can open is a new
    # one (first run, or a create retried after its undo), or one whose token
    # the tenant replaced: its role and the service account get new
    # passwords, and Superset must hold both.
    # Inside the tenant database only as the tenant's own role.
    tenant_side = as_role(server, tenant.runtime_role, tenant.cell)
    current = tenant_db.get_params(tenant_side, database, TENANT_PARAM)
    stored_password = stored_service_password(
        database, current.get(TENANT_PARAM + "password"), tenant.cell
    )
    fresh = stored_password is None
    result = ensure_workspace(
        api, spec, reset_service_password=fresh, reset_database_password=fresh
    )
    for line in result.created:
        log(f"Superset: created {line}")
    pushed = push_tenant_settings(
        tenant_side,
        database,
        tenant.code,
        os.environ.get("IPAI_SUPERSET_INTERNAL_URL", url),
        os.environ.get("SUPERSET_PUBLIC_URL", ""),
        result,
        result.service_password or stored_password,
        current,
        tenant.cell,
    )
    if pushed:
        log(f"tenant settings updated: {', '.join(pushed)}")
    if not (result.created or pushed):
        log(f"Superset workspace {workspace_name(tenant.code)} already complete; nothing changed")
    return result, pushed


def provision_step(ctx):
    """Provisioning step (operations.PLANS): the tenant's Superset workspace.
    Skipped, with a line in the job log, where no Superset is configured."""
    import os

    if not os.environ.get("SUPERSET_URL"):
        ctx.skip("no Superset configured (SUPERSET_URL)")
        return
    if not ctx.tenant.plan_has_bi:
        ctx.skip(f"plan {ctx.tenant.plan_code} has no embedded BI")
        return
    from odoo.addons.ipai_tenant_core.infra import crypto

    token = ctx.spec.bi_token
    provision_workspace(
        ctx.tenant, crypto.decrypt(token) if token else None, ctx.server, log=ctx.log
    )
    ctx.record("set_workspace", workspace_name(ctx.tenant.code))


def removal_step(ctx):
    """Removal step (operations._REMOVAL): delete the tenant's workspace from
    Superset. Idempotent; skipped where no Superset is configured."""
    import os

    url = os.environ.get("SUPERSET_URL", "").rstrip("/")
    if not (url and os.environ.get("SUPERSET_ADMIN_PASSWORD")):
        ctx.skip("no Superset configured (SUPERSET_URL); nothing to remove there")
        return
    api = SupersetApi(
        url,
        os.environ.get("SUPERSET_ADMIN_USERNAME", "admin"),
        os.environ["SUPERSET_ADMIN_PASSWORD"],
    )
    remove_workspace(api, ctx.tenant.code)
    ctx.log(f"removed the Superset workspace {workspace_name(ctx.tenant.code)}")
