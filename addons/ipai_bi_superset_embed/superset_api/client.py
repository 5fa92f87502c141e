"""Guest tokens from Superset's REST API, with the caches that make them cheap.

Two in-process caches, each entry kept until shortly before it expires:

* Superset access tokens, per (Superset URL, service account): one login per
  token lifetime instead of one per guest token.
* guest tokens, per (database, user, dashboard): a page reload or a second tab
  costs no Superset call at all.

So a guest token that is not cached costs exactly one call. Whether the
dashboard belongs to the tenant's workspace is decided by Superset in that
same call: its guest-token validator (deploy/superset/superset_config.py)
refuses a tenant's service account any dashboard it does not own, or any
clause but its tenant's, and answers 400, which ``guest_token`` turns into
``DashboardNotInWorkspace``. Checking in Odoo as well would cost a catalogue
of the workspace (one call per dashboard to learn its embedded uuid) and
would guard less: a tenant's administrator can edit Odoo's settings, not
Superset's validator.

Every call has a deadline of a few seconds in total; a Superset that is down,
slow or refusing turns into ``SupersetUnavailable`` or ``SupersetRefused``
with a message a person can act on. After a failure the URL is left alone for
a moment, so a dead Superset does not hold every Odoo worker for the full
timeout.
"""

import base64
import hashlib
import json
import logging
import os
import threading
import time
from urllib.parse import urlencode

import urllib3
from urllib3.exceptions import HTTPError, MaxRetryError, NewConnectionError
from urllib3.exceptions import TimeoutError as UrllibTimeout
from urllib3.util.retry import Retry

_logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 1.5
DEADLINE = 5.0  # seconds for everything one guest token needs from Superset
SAFETY_MARGIN = 30  # drop a cached token this long before it expires
LISTING_DEADLINE = 30.0  # listing every embedded dashboard: one call each
BACKOFF_AFTER_FAILURE = 2.0


class SupersetError(Exception):
    http_status = 502


class SupersetUnavailable(SupersetError):
    """Down, slow or failing (network error, timeout, 5xx)."""

    http_status = 503


class SupersetRefused(SupersetError):
    """Superset answered and said no (bad credentials, refused token)."""

    http_status = 502


class DashboardNotInWorkspace(SupersetError):
    """Superset will not mint this workspace a token for the dashboard: it is
    another workspace's, or no longer embedded."""

    http_status = 403


class ExpiringCache:
    """A thread-safe dict whose entries vanish at their own expiry time."""

    def __init__(self):
        self._entries = {}
        self._lock = threading.Lock()

    def get(self, key, now=None):
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if expires_at <= (now if now is not None else time.time()):
            with self._lock:
                self._entries.pop(key, None)
            return None
        return value

    def put(self, key, value, expires_at):
        with self._lock:
            if len(self._entries) > 10_000:
                now = time.time()
                self._entries = {k: e for k, e in self._entries.items() if e[1] > now}
            self._entries[key] = (value, expires_at)

    def pop(self, key):
        with self._lock:
            self._entries.pop(key, None)

    def clear(self):
        with self._lock:
            self._entries.clear()


access_tokens = ExpiringCache()
guest_tokens = ExpiringCache()
_unavailable_until = {}
_process_pool = (None, None)


def clear_caches():
    for cache in (access_tokens, guest_tokens):
        cache.clear()
    _unavailable_until.clear()


def jwt_expiry(token):
    """The ``exp`` claim of a JWT, read without verifying it: Superset signed
    it for Superset, we only need to know when to ask again."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        return float(json.loads(base64.urlsafe_b64decode(payload))["exp"])
    except (IndexError, KeyError, TypeError, ValueError) as exc:
        raise SupersetRefused("Superset returned a token that is not a JWT.") from exc


def _pool():
    """One keep-alive connection pool per process, shared by its threads
    (urllib3 pools are thread-safe). Bare urllib3 rather than requests: a
    guest token is one small JSON POST, and requests' session machinery
    (cookies, hooks, adapters, redirects) costs about a millisecond of Python
    per call on the route's cold path. urllib3 keeps no cookies, so a
    Superset session cookie is never sent back (it would make Superset load
    and re-sign a browser session on every call). A pool inherited through
    fork is never used: the child would share the parent's sockets."""
    global _process_pool
    pid, pool = _process_pool
    if pid != os.getpid():
        pool = urllib3.PoolManager(
            # Connections kept per Superset host: one per concurrent request.
            # A prefork worker needs one; a threaded server one per busy
            # thread (beyond this, urllib3 opens extra ones and logs a warning
            # as it discards them).
            maxsize=16,
            # Refused connections only: the request never reached Superset,
            # so a retry cannot do anything twice. No read or status retries:
            # a guest-token POST is not idempotent and the caller has a
            # deadline.
            retries=Retry(
                total=1, connect=1, read=0, status=0, other=0, redirect=False, backoff_factor=0.1
            ),
        )
        _process_pool = (os.getpid(), pool)  # one assignment: safe under threads
    return pool


class SupersetClient:
    def __init__(self, url, username, password, deadline=DEADLINE):
        self.url = url.rstrip("/")
        self.username = username
        self.password = password
        self.deadline = time.monotonic() + deadline
        # A new password (or account) in the settings must not reuse the old
        # login's token, in this worker or any other.
        fingerprint = hashlib.sha256(f"{username}\0{password}".encode()).hexdigest()[:16]
        self.account_key = (self.url, username, fingerprint)

    # ---------------------------------------------------------------- HTTP

    def _request(self, method, path, json_body=None, params=None, headers=None):
        if _unavailable_until.get(self.url, 0) > time.monotonic():
            raise SupersetUnavailable(
                f"Superset at {self.url} did not answer a moment ago; try again shortly."
            )
        remaining = self.deadline - time.monotonic()
        if remaining <= 0.1:
            raise SupersetUnavailable(f"Superset at {self.url} is too slow to answer.")
        headers = {"Accept": "application/json", **(headers or {})}
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        url = self.url + path + (f"?{urlencode(params)}" if params else "")
        try:
            response = _pool().request(
                method,
                url,
                body=body,
                headers=headers,
                timeout=urllib3.Timeout(connect=min(CONNECT_TIMEOUT, remaining), read=remaining),
            )
        except HTTPError as exc:  # urllib3's base: refused, timed out, broken
            self._mark_unavailable()
            cause = exc.reason if isinstance(exc, MaxRetryError) else exc
            # urllib3 1.26 derives a refused connection from its connect
            # timeout: ask for the refusal first.
            if isinstance(cause, UrllibTimeout) and not isinstance(cause, NewConnectionError):
                raise SupersetUnavailable(f"Superset at {self.url} is too slow to answer.") from exc
            raise SupersetUnavailable(f"Superset at {self.url} cannot be reached.") from exc
        if response.status >= 500:
            self._mark_unavailable()
            raise SupersetUnavailable(f"Superset at {self.url} failed (HTTP {response.status}).")
        return response

    def _mark_unavailable(self):
        _unavailable_until[self.url] = time.monotonic() + BACKOFF_AFTER_FAILURE

    def _json(self, response, what):
        try:
            return json.loads(response.data)
        except ValueError as exc:
            raise SupersetRefused(f"Superset answered {what} with something not JSON.") from exc

    # ------------------------------------------------------- access token

    def access_token(self):
        key = self.account_key
        token = access_tokens.get(key)
        if token:
            return token
        response = self._request(
            "POST",
            "/api/v1/security/login",
            json_body={
                "username": self.username,
                "password": self.password,
                "provider": "db",
                "refresh": False,
            },
        )
        if response.status in (400, 401, 403):
            raise SupersetRefused(
                f"Superset refused the service account {self.username!r}; check its password "
                "in Settings > BI dashboards."
            )
        if response.status != 200:
            raise SupersetRefused(f"Superset login failed (HTTP {response.status}).")
        token = self._json(response, "the login")["access_token"]
        access_tokens.put(key, token, jwt_expiry(token) - SAFETY_MARGIN)
        return token

    def _authorized(self, method, path, **kwargs):
        """A call with the access token; a token Superset no longer accepts
        (restarted with a new secret, user disabled) is dropped and renewed once."""
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.access_token()}"}
            response = self._request(method, path, headers=headers, **kwargs)
            if response.status == 401 and attempt == 1:
                access_tokens.pop(self.account_key)
                continue
            return response

    # ------------------------------------------------------- guest tokens

    def guest_token(self, user, embedded_uuid, rls_clause):
        response = self._authorized(
            "POST",
            "/api/v1/security/guest_token/",
            json_body={
                "user": user,
                "resources": [{"type": "dashboard", "id": embedded_uuid}],
                "rls": [{"clause": rls_clause}],
            },
        )
        if response.status == 400:
            # Superset says why (validator, unknown uuid, bad payload): keep it
            # for the administrator, the user gets the short version.
            _logger.warning(
                "Superset refused a guest token for dashboard %s: %s",
                embedded_uuid,
                response.data[:500].decode("utf-8", "replace"),
            )
            raise DashboardNotInWorkspace(
                "Superset does not let this workspace show the dashboard: it is not in this "
                "workspace, or no longer embedded."
            )
        if response.status != 200:
            raise SupersetRefused(
                f"Superset refused a guest token for this dashboard (HTTP {response.status})."
            )
        token = self._json(response, "the guest token request")["token"]
        return token, jwt_expiry(token)

    # ---------------------------------------------------------- workspace

    def embedded_dashboards(self):
        """{embedded uuid: {id, title, slug}} of the embedded dashboards the
        service account can list: one call for the list, one per dashboard
        for its embedding. For an administrator's "load dashboards", never on
        a guest token's path; give the client ``LISTING_DEADLINE``."""
        query = "(columns:!(id,dashboard_title,slug),page_size:100)"
        response = self._authorized("GET", "/api/v1/dashboard/", params={"q": query})
        if response.status != 200:
            raise SupersetRefused(
                f"Superset refused to list the workspace (HTTP {response.status})."
            )
        dashboards = {}
        for row in self._json(response, "the dashboard list").get("result", []):
            embedded = self._authorized("GET", f"/api/v1/dashboard/{row['id']}/embedded")
            if embedded.status != 200:
                continue  # not embedded: nothing a tenant can show
            uuid = self._json(embedded, "the embedding")["result"]["uuid"]
            dashboards[uuid] = {
                "id": row["id"],
                "title": row.get("dashboard_title") or "",
                "slug": row.get("slug") or "",
            }
        return dashboards
