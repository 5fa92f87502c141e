"""The BI contract between the control plane (which builds a tenant's
Superset workspace), the tenant-side addon (which asks for guest tokens)
and Superset's configuration (which refuses any other token): one service
account, workspace and dashboard prefix per tenant code, and exactly one
row-level-security clause."""

from .naming import code_problem

SERVICE_ACCOUNT_PREFIX = "ipai_svc_"
# The tenant database's parameter naming its tenant (pushed by the platform).
TENANT_CODE_PARAM = "ipai_tenant.code"


class NotATenantCode(ValueError):
    pass


def checked_code(code):
    """``code`` if it is a tenant code, else NotATenantCode: a code reaches
    SQL (the RLS clause) and Superset names only through here."""
    problem = code_problem(code if isinstance(code, str) else "")
    if problem:
        raise NotATenantCode(problem)
    return code


def workspace_name(code):
    return f"ipai_{code}"


def service_username(code):
    return f"{SERVICE_ACCOUNT_PREFIX}{code}"


def dashboard_slug_prefix(code):
    return f"{workspace_name(code)}_"


def dashboard_slug(code, key="overview"):
    return f"{dashboard_slug_prefix(code)}{key}"


def rls_clause(code):
    """The row-level-security clause of a tenant's guest tokens. The code is
    validated first; the quote doubling is a second line of defence."""
    return "tenant_code = '{}'".format(checked_code(code).replace("'", "''"))


def code_of_service_account(username):
    """The tenant code of a workspace's service account, None for any other
    account (Superset's administrators, people)."""
    if not (username or "").startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    code = username[len(SERVICE_ACCOUNT_PREFIX) :]
    return "" if code_problem(code) else code
