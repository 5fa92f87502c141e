"""Rules for tenant codes and the PostgreSQL/DNS names derived from them.

Codes end up in database, role, schema and host names, so they are validated
here before they reach any SQL, and the derived names are computed, never
typed by a user.
"""

import re

CODE_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,29}$")
RESERVED_CODES = frozenset(
    {
        "admin",
        "api",
        "mail",
        "odoo",
        "pg",
        "postgres",
        "root",
        "superset",
        "template",
        "template0",
        "template1",
        "www",
    }
)
DATABASE_PREFIX = "odoo_"
ROLE_PREFIX = "tenant_"
SCHEMA_PREFIX = "tenant_"
PG_IDENTIFIER_MAX_BYTES = 63
HOSTNAME_PATTERN = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


# One plain address (RFC 5322 dot-atom local part, a host name with a dot):
# not a display name, not two '@', nothing after the domain.
EMAIL_PATTERN = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


def is_valid_email(value):
    """An administrator's login: exactly one plain e-mail address."""
    return bool(value) and len(value) <= 254 and bool(EMAIL_PATTERN.match(value))


def code_problem(code, platform_database=None, database_prefix=DATABASE_PREFIX):
    """Return why ``code`` is not acceptable, or None when it is."""
    if not code:
        return "A tenant code is required."
    if not CODE_PATTERN.match(code):
        return (
            f"Tenant code '{code}' is invalid: use 2 to 30 lowercase letters, digits "
            "or '-', starting with a letter."
        )
    if code.endswith("-") or "--" in code:
        return f"Tenant code '{code}' may not end with '-' or contain '--'."
    if code in RESERVED_CODES:
        return f"Tenant code '{code}' is reserved."
    if platform_database and platform_database in (code, database_name(code, database_prefix)):
        return f"Tenant code '{code}' would reuse the platform database name."
    return None


def database_name(code, prefix=DATABASE_PREFIX):
    return _identifier(f"{prefix}{code}")


def role_name(code, prefix=ROLE_PREFIX):
    return _identifier(f"{prefix}{code.replace('-', '_')}")


def runtime_role_name(code, prefix=ROLE_PREFIX):
    """The role the tenant runtime serves the tenant's database with, owner
    of everything inside it. Codes never hold '--', so no BI role name
    (``role_name``) ever holds '__': the two never collide."""
    return _identifier(f"{role_name(code, prefix)}__odoo")


def template_owner_role(prefix=ROLE_PREFIX):
    """Owner of the objects inside template databases; each copy hands them
    to its tenant's own role (REASSIGN OWNED), which reaches no other copy."""
    return _identifier(f"{prefix}_templates")


def _identifier(name):
    if len(name.encode()) > PG_IDENTIFIER_MAX_BYTES:
        raise ValueError(f"{name} is longer than PostgreSQL's 63-byte identifier limit")
    return name


def schema_name(code):
    # Hyphens are legal in quoted identifiers but awkward in BI tools.
    return f"{SCHEMA_PREFIX}{code.replace('-', '_')}"


def is_valid_hostname(hostname):
    return bool(hostname and HOSTNAME_PATTERN.match(hostname))


def pool_database_name(token, prefix=DATABASE_PREFIX):
    """A warm-pool member's database until a tenant claims it. Codes start
    with a letter, so ``<prefix>_pool_...`` is never a tenant's name."""
    return _identifier(f"{prefix}_pool_{token}")


def pool_token(database_name, prefix=DATABASE_PREFIX):
    """The token of a warm-pool database name, or None for any other name."""
    match = re.fullmatch(re.escape(prefix) + r"_pool_([0-9a-f]{12})", database_name or "")
    return match.group(1) if match else None


def pool_role_name(token, prefix=ROLE_PREFIX):
    """The role owning a pool member's objects, kept by the tenant that
    claims it; never a tenant code's derived name."""
    return _identifier(f"{prefix}_pool_{token}__odoo")


def pool_bi_role_name(token, prefix=ROLE_PREFIX):
    """A warm-pool member's read-only BI role; kept by the claiming tenant."""
    return _identifier(f"{prefix}_pool_{token}")
