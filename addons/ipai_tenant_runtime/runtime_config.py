"""The few options that tell a process which runtime it is."""

from odoo.tools import config

PLATFORM = "platform"
TENANT = "tenant"
DEFAULT_RUNTIME_ROLE = "ipai_runtime"


def mode():
    value = config.get("ipai_runtime") or None
    return value if value in (PLATFORM, TENANT) else None


def platform_database():
    return config.get("ipai_platform_db") or None


def runtime_role():
    """The routing role of the tenant runtime (SELECT on one view, nothing else)."""
    return config.get("ipai_runtime_role") or DEFAULT_RUNTIME_ROLE
