"""Guest tokens from Superset's REST API, with the caches that make them cheap.

Three in-process caches, each entry kept until shortly before it expires:

* Superset access tokens, per (Superset URL, service account): one login per
  token lifetime instead of one per guest token.
* guest tokens, per (database, user, dashboard): a page reload or a second tab
  costs no Superset call at all.
* the workspace catalogue, per (Superset URL, service account): the embedded
  dashboards the service account owns, refreshed every few minutes or when a
  dashboard is not in it.

Every call has a deadline of a few seconds in total; a Superset that is down,
slow or refusing turns into ``SupersetUnavailable`` or ``SupersetRefused``
with a message a person can act on. After a failure the URL is left alone for
a moment, so a dead Superset does not hold every Odoo worker for the full
timeout.
"""

import base64
import hashlib
import http.cookiejar
import json
import threading
import time

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

CONNECT_TIMEOUT = 1.5
DEADLINE = 5.0  # seconds for everything one guest token needs from Superset
SAFETY_MARGIN = 30  # drop a cached token this long before it expires
CATALOGUE_TTL = 300
BACKOFF_AFTER_FAILURE = 2.0


class SupersetError(Exception):
    http_status = 502


class SupersetUnavailable(SupersetError):
    """Down, slow or failing (network error, timeout, 5xx)."""

    http_status = 503


class SupersetRefused(SupersetError):
    """Superset answered and said no (bad credentials, refused token)."""

    http_status = 502


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
catalogues = ExpiringCache()
_unavailable_until = {}
_local = threading.local()


def clear_caches():
    for cache in (access_tokens, guest_tokens, catalogues):
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


def _session():
    """One keep-alive session per thread (requests sessions are not thread-safe)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        # Bearer tokens only: a Superset session cookie sent back would make
        # Superset load and re-sign a browser session on every call.
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        # Refused connections only: the request never reached Superset, so a
        # retry cannot do anything twice. No read or status retries here: a
        # guest-token POST is not idempotent and the caller has a deadline.
        retry = Retry(total=1, connect=1, read=0, status=0, other=0, backoff_factor=0.1)
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=4)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _local.session = session
    return session


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

    def _request(self, method, path, **kwargs):
        if _unavailable_until.get(self.url, 0) > time.monotonic():
            raise SupersetUnavailable(
                f"Superset at {self.url} did not answer a moment ago; try again shortly."
            )
        remaining = self.deadline - time.monotonic()
        if remaining <= 0.1:
            raise SupersetUnavailable(f"Superset at {self.url} is too slow to answer.")
        try:
            response = _session().request(
                method,
                self.url + path,
                timeout=(min(CONNECT_TIMEOUT, remaining), remaining),
                **kwargs,
            )
        except requests.Timeout as exc:
            self._mark_unavailable()
            raise SupersetUnavailable(f"Superset at {self.url} is too slow to answer.") from exc
        except requests.RequestException as exc:
            self._mark_unavailable()
            raise SupersetUnavailable(f"Superset at {self.url} cannot be reached.") from exc
        if response.status_code >= 500:
            self._mark_unavailable()
            raise SupersetUnavailable(
                f"Superset at {self.url} failed (HTTP {response.status_code})."
            )
        return response

    def _mark_unavailable(self):
        _unavailable_until[self.url] = time.monotonic() + BACKOFF_AFTER_FAILURE

    def _json(self, response, what):
        try:
            return response.json()
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
            json={
                "username": self.username,
                "password": self.password,
                "provider": "db",
                "refresh": False,
            },
        )
        if response.status_code in (400, 401, 403):
            raise SupersetRefused(
                f"Superset refused the service account {self.username!r}; check its password "
                "in Settings > BI dashboards."
            )
        if response.status_code != 200:
            raise SupersetRefused(f"Superset login failed (HTTP {response.status_code}).")
        token = self._json(response, "the login")["access_token"]
        access_tokens.put(key, token, jwt_expiry(token) - SAFETY_MARGIN)
        return token

    def _authorized(self, method, path, **kwargs):
        """A call with the access token; a token Superset no longer accepts
        (restarted with a new secret, user disabled) is dropped and renewed once."""
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.access_token()}"}
            response = self._request(method, path, headers=headers, **kwargs)
            if response.status_code == 401 and attempt == 1:
                access_tokens.pop(self.account_key)
                continue
            return response

    # ------------------------------------------------------- guest tokens

    def guest_token(self, user, embedded_uuid, rls_clause):
        response = self._authorized(
            "POST",
            "/api/v1/security/guest_token/",
            json={
                "user": user,
                "resources": [{"type": "dashboard", "id": embedded_uuid}],
                "rls": [{"clause": rls_clause}],
            },
        )
        if response.status_code != 200:
            raise SupersetRefused(
                f"Superset refused a guest token for this dashboard (HTTP {response.status_code})."
            )
        token = self._json(response, "the guest token request")["token"]
        return token, jwt_expiry(token)

    # ---------------------------------------------------------- workspace

    def workspace(self, refresh=False):
        """{embedded uuid: {id, title, slug}} of the dashboards the service
        account owns and that are embedded: the tenant's workspace."""
        key = self.account_key
        catalogue = None if refresh else catalogues.get(key)
        if catalogue is not None:
            return catalogue
        query = "(columns:!(id,dashboard_title,slug),page_size:100)"
        response = self._authorized("GET", "/api/v1/dashboard/", params={"q": query})
        if response.status_code != 200:
            raise SupersetRefused(
                f"Superset refused to list the workspace (HTTP {response.status_code})."
            )
        catalogue = {}
        for row in self._json(response, "the dashboard list").get("result", []):
            embedded = self._authorized("GET", f"/api/v1/dashboard/{row['id']}/embedded")
            if embedded.status_code != 200:
                continue  # not embedded: nothing a tenant can show
            uuid = self._json(embedded, "the embedding")["result"]["uuid"]
            catalogue[uuid] = {
                "id": row["id"],
                "title": row.get("dashboard_title") or "",
                "slug": row.get("slug") or "",
            }
        catalogues.put(key, catalogue, time.time() + CATALOGUE_TTL)
        return catalogue

    def in_workspace(self, embedded_uuid, workspace):
        """Whether ``embedded_uuid`` is one of the workspace's dashboards; a
        miss refreshes the catalogue once (a dashboard added a minute ago)."""
        for refresh in (False, True):
            entry = self.workspace(refresh=refresh).get(embedded_uuid)
            if entry is not None:
                return entry["slug"].startswith(f"{workspace}_")
        return False
