"""Superset 6.1 configuration for the ipai stack, read entirely from the environment.

Superset imports this module at the end of its own ``superset/config.py``
(``from superset_config import *``), so everything here overrides Superset's
defaults. The same file serves docker-compose.yml (mounted read-only at
/app/pythonpath/superset_config.py) and a local Superset: only the environment
differs. No secret has a default; a missing one stops the import with a message
naming the variable.

Environment:
  required  SUPERSET_SECRET_KEY            signs sessions, encrypts stored DB passwords
            SUPERSET_DATABASE_URI          PostgreSQL metadata database URI
            SUPERSET_GUEST_TOKEN_SECRET    signs the embedded dashboards' guest tokens
  optional  SUPERSET_GUEST_TOKEN_AUDIENCE  JWT "aud" of guest tokens (default: ipai)
            SUPERSET_GUEST_TOKEN_EXP_SECONDS  guest token lifetime (default: 300)
            SUPERSET_GUEST_ROLE_NAME       role guest tokens act as (default: Gamma)
            IPAI_ODOO_ORIGINS              space-separated origins allowed to frame
                                           dashboards, e.g. "https://*.example.com"
                                           (default: none, only Superset itself)
            SUPERSET_SESSION_COOKIE_SECURE cookies only over HTTPS (default: true)
            SUPERSET_ENABLE_PROXY_FIX      trust X-Forwarded-* (default: true)
"""

import os
import re
from copy import deepcopy as _deepcopy

# The platform's rules (tenant codes, workspace names, the RLS clause): the
# compose stack mounts them beside this file, a checkout has them in addons/.
try:
    from ipai_platform_rules import analytics
except ImportError:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "addons"))
    from ipai_platform_rules import analytics

# Superset's own defaults, imported under private names so that the
# ``import *`` above does not re-export them. superset.config is already in
# sys.modules, half run, when it imports this file; every name below is
# defined long before that point, so these imports are safe.
from superset.config import CORS_OPTIONS as _DEFAULT_CORS_OPTIONS
from superset.config import TALISMAN_CONFIG as _DEFAULT_TALISMAN_CONFIG
from superset.config import TALISMAN_DEV_CONFIG as _DEFAULT_TALISMAN_DEV_CONFIG
from superset.config import WTF_CSRF_EXEMPT_LIST as _DEFAULT_WTF_CSRF_EXEMPT_LIST

# Values shipped in .env.example; refusing them catches an unfilled .env.
_PLACEHOLDERS = {"change-me", "changeme", "change_me"}


class _ConfigError(RuntimeError):
    pass


def _required(name):
    value = os.environ.get(name, "").strip()
    if not value:
        raise _ConfigError(
            f"superset_config: environment variable {name} is required and not set "
            "(see .env.example and docs/deployment.md)"
        )
    if value.lower() in _PLACEHOLDERS:
        raise _ConfigError(
            f"superset_config: {name} still holds the placeholder {value!r}; "
            "generate a real value (see .env.example)"
        )
    return value


def _optional(name, default):
    value = os.environ.get(name, "").strip()
    return value or default


def _bool(name, default):
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise _ConfigError(f"superset_config: {name}={raw!r} is not a boolean (true/false)")


def _int(name, default):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _ConfigError(f"superset_config: {name}={raw!r} is not an integer") from None
    if value <= 0:
        raise _ConfigError(f"superset_config: {name} must be positive, got {value}")
    return value


# scheme://host[:port], where host may start with one "*." wildcard label and
# the port may be "*" (the CSP host-source syntax; a local stack serves each
# tenant on a port of its own). No path, no bare "*": letting any site frame
# the dashboards would reopen clickjacking.
_ORIGIN_RE = re.compile(r"^https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:([0-9]{1,5}|\*))?$")


def _origins(name):
    origins = []
    for origin in os.environ.get(name, "").replace(",", " ").split():
        origin = origin.rstrip("/")
        if not _ORIGIN_RE.match(origin):
            raise _ConfigError(
                f"superset_config: {name} holds {origin!r}, which is not an origin "
                "like https://erp.example.com or https://*.example.com"
            )
        if origin not in origins:
            origins.append(origin)
    return origins


def _as_list(value):
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)


def _cors_pattern(origin):
    """Turn an origin (maybe with a "*." label) into a regex for Flask-CORS.

    Flask-CORS reads any origin string containing "*" as a regular expression
    (re.match, case-insensitive), so "https://*.example.com" would not mean
    what CSP means by it. This anchored pattern does: "*." stands for one or
    more subdomain labels and ":*" for any port. Exact origins are escaped and
    anchored the same way.
    """
    scheme, rest = origin.split("://", 1)
    any_port = rest.endswith(":*")
    if any_port:
        rest = rest[:-2]
    wildcard = rest.startswith("*.")
    host = re.escape(rest[2:] if wildcard else rest)
    if wildcard:
        host = r"(?:[a-z0-9-]+\.)+" + host
    if any_port:
        host += r"(?::[0-9]{1,5})?"
    return rf"^{re.escape(scheme)}://{host}\Z"


# ---------------------------------------------------------------------------
# Core
# ---------------------------------------------------------------------------
SECRET_KEY = _required("SUPERSET_SECRET_KEY")

# The metadata database must be PostgreSQL: Superset's default SQLite file is
# neither safe for several gunicorn workers nor backed up with the rest.
SQLALCHEMY_DATABASE_URI = _required("SUPERSET_DATABASE_URI")
if not SQLALCHEMY_DATABASE_URI.startswith(("postgresql://", "postgresql+")):
    raise _ConfigError(
        "superset_config: SUPERSET_DATABASE_URI must be a PostgreSQL URI "
        "(postgresql+psycopg2://user:password@host:5432/superset)"
    )

# Superset sits behind the same TLS-terminating reverse proxy as Odoo. Without
# ProxyFix it sees plain http from the proxy's address and builds http:// links
# and redirects.
ENABLE_PROXY_FIX = _bool("SUPERSET_ENABLE_PROXY_FIX", True)

# ---------------------------------------------------------------------------
# Embedded dashboards (guest tokens)
# ---------------------------------------------------------------------------
FEATURE_FLAGS = {"EMBEDDED_SUPERSET": True}

# A guest token's user gets this role's permissions, restricted to the
# dashboards named in the token. It must be a role that holds permissions:
# "Public" is empty unless PUBLIC_ROLE_LIKE is set, and every embedded chart
# would then fail with 403. Gamma can read dashboards and charts but has no
# data access of its own; the token grants access to its dashboards' datasets.
GUEST_ROLE_NAME = _optional("SUPERSET_GUEST_ROLE_NAME", "Gamma")
GUEST_TOKEN_JWT_SECRET = _required("SUPERSET_GUEST_TOKEN_SECRET")
GUEST_TOKEN_JWT_ALGO = "HS256"
# Tokens minted for another service sharing the secret are refused.
GUEST_TOKEN_JWT_AUDIENCE = _optional("SUPERSET_GUEST_TOKEN_AUDIENCE", "ipai")
# Short-lived: the embedding page fetches a fresh token before this runs out.
GUEST_TOKEN_JWT_EXP_SECONDS = _int("SUPERSET_GUEST_TOKEN_EXP_SECONDS", 300)

# Tenant workspaces (addons/ipai_tenant_engine/provisioning/superset_workspace.py):
# each tenant's Odoo asks for guest tokens as its own service account
# ipai_svc_<code>, which owns its workspace's dashboards. Superset itself
# refuses that account a token for any other dashboard, or with any
# row-level-security rule but its tenant's own clause, so a leaked tenant
# credential cannot open another tenant's data. Other accounts (Superset's
# administrators) keep Superset's default behaviour. The names and the clause
# are the platform's own rules (addons/ipai_platform_rules/analytics.py),
# read from a checkout beside this file or the compose stack's mount.


def _tenant_guest_token_validator(body):
    from flask import g
    from superset.daos.dashboard import EmbeddedDashboardDAO

    user = getattr(g, "user", None)
    code = analytics.code_of_service_account(getattr(user, "username", ""))
    if code is None:
        return True
    if not code:
        return False
    rules = [dict(rule) for rule in body.get("rls") or []]
    if rules != [{"clause": analytics.rls_clause(code)}]:
        return False
    for resource in body.get("resources") or []:
        if resource.get("type") != "dashboard":
            return False
        # Embedded uuids only: Superset would also take a dashboard's id or slug.
        embedded = EmbeddedDashboardDAO.find_by_id(str(resource.get("id")))
        dashboard = embedded.dashboard if embedded is not None else None
        if dashboard is None or user.id not in {owner.id for owner in dashboard.owners}:
            return False
        if not (dashboard.slug or "").startswith(analytics.dashboard_slug_prefix(code)):
            return False
    return True


GUEST_TOKEN_VALIDATOR_HOOK = _tenant_guest_token_validator

# ---------------------------------------------------------------------------
# CSRF
# ---------------------------------------------------------------------------
# Every POST needs a CSRF token plus the matching session cookie unless its view
# is listed here. Odoo's server asks for guest tokens with a bearer JWT from
# /api/v1/security/login and has no browser session, hence no CSRF token: the
# guest token endpoint (POST /api/v1/security/guest_token/) is exempted. The
# endpoint still requires an authenticated user with can_grant_guest_token.
# Superset's defaults are kept (chart data, logging, ...), never replaced: an
# empty list would break the UI, a shorter one embedded charts.
WTF_CSRF_EXEMPT_LIST = [
    *_DEFAULT_WTF_CSRF_EXEMPT_LIST,
    *(
        view
        for view in ("superset.security.api.guest_token",)
        if view not in _DEFAULT_WTF_CSRF_EXEMPT_LIST
    ),
]

# ---------------------------------------------------------------------------
# Cookies
# ---------------------------------------------------------------------------
# Dashboards are framed by Odoo on another site (a tenant's domain), so the
# session cookie is a third-party cookie there: browsers only send it with
# SameSite=None, and only accept SameSite=None together with Secure. Over plain
# HTTP (a local stack on a non-localhost name) Secure cookies are dropped, so
# SUPERSET_SESSION_COOKIE_SECURE=false falls back to Lax: the guest-token embed
# itself needs no cookie, only a logged-in Superset session inside the frame does.
SESSION_COOKIE_SECURE = _bool("SUPERSET_SESSION_COOKIE_SECURE", True)
SESSION_COOKIE_SAMESITE = "None" if SESSION_COOKIE_SECURE else "Lax"
SESSION_COOKIE_HTTPONLY = True

# ---------------------------------------------------------------------------
# Framing (Talisman) and CORS
# ---------------------------------------------------------------------------
_ODOO_ORIGINS = _origins("IPAI_ODOO_ORIGINS")

# Who may put Superset in an iframe: Superset itself plus Odoo's origins. CSP
# frame-ancestors understands "https://*.example.com" natively.
_FRAME_ANCESTORS = ["'self'", *_ODOO_ORIGINS]


def _talisman(defaults):
    """Superset's Talisman settings, changed only where framing needs it.

    Superset 6.x's default TALISMAN_CONFIG holds a content_security_policy
    (base-uri, default-src, img-src, worker-src, connect-src, object-src,
    style-src, font-src, script-src), content_security_policy_nonce_in,
    force_https and session_cookie_secure. All of it is kept as this Superset
    release ships it; only these keys change.
    """
    config = _deepcopy(defaults)
    csp = dict(config.get("content_security_policy") or {})
    csp["frame-ancestors"] = list(_FRAME_ANCESTORS)
    config["content_security_policy"] = csp
    # X-Frame-Options cannot list other origins (ALLOW-FROM is dead), and
    # browsers apply it on top of CSP: with the default SAMEORIGIN no tenant
    # could frame a dashboard. frame-ancestors above takes over its job.
    config["frame_options"] = None
    # Talisman writes its own session_cookie_samesite (default "Lax") into
    # SESSION_COOKIE_SAMESITE when it starts, after this file is read, and
    # would silently undo the cookie settings above. Keep the two in step.
    config["session_cookie_samesite"] = SESSION_COOKIE_SAMESITE
    config["session_cookie_secure"] = SESSION_COOKIE_SECURE
    return config


TALISMAN_ENABLED = True
TALISMAN_CONFIG = _talisman(_DEFAULT_TALISMAN_CONFIG)
# Used instead of TALISMAN_CONFIG when Superset runs with FLASK_DEBUG; framing
# must behave the same in a local `make superset`.
TALISMAN_DEV_CONFIG = _talisman(_DEFAULT_TALISMAN_DEV_CONFIG)

# CORS: Odoo's pages may call Superset's REST API from the browser with a guest
# token in the X-GuestToken header. The embedded SDK itself needs no CORS (it
# talks to its iframe with postMessage), and no browser call needs Superset's
# session cookie, so credentials stay off: with them, script on any framing
# origin (a tenant's own website pages included) could read Superset's API as
# whichever Superset user happens to be logged in. Superset's default options
# and origins are kept; the Odoo origins are added.
ENABLE_CORS = True
CORS_OPTIONS = {
    **_DEFAULT_CORS_OPTIONS,
    "supports_credentials": False,
    "origins": [
        *_as_list(_DEFAULT_CORS_OPTIONS.get("origins")),
        *(_cors_pattern(origin) for origin in _ODOO_ORIGINS),
    ],
}
