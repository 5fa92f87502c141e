"""The machinery every route of the REST API shares: Bearer-key
authentication, the per-key rate limit, JSON in and out, and errors as
problem details (RFC 9457). A route runs as the key's user, through the same
model methods and record rules as the forms; its writes sit in a savepoint,
so a refused request leaves nothing behind."""

import functools
import json
import logging
import re
from http import HTTPStatus

import psycopg2
from odoo import SUPERUSER_ID, api, http
from odoo.exceptions import AccessDenied, AccessError, MissingError, UserError, ValidationError
from odoo.http import request
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY

_logger = logging.getLogger(__name__)

PREFIX = "/api/v1"
PROBLEM_TYPE = "about:blank"
BEARER = re.compile(r"Bearer\s+(\S+)\s*", re.IGNORECASE)
MAX_PAGE = 200


class ApiError(Exception):
    """An answer other than success, with its HTTP status."""

    def __init__(self, status, detail, headers=None, **extensions):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions


def problem(status, detail, headers=None, **extensions):
    """A problem details response (RFC 9457)."""
    body = {
        "type": PROBLEM_TYPE,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.httprequest.path,
        **extensions,
    }
    return json_response(body, status, headers, content_type="application/problem+json")


def json_response(body, status=200, headers=None, content_type="application/json"):
    data = json.dumps(body, ensure_ascii=False)
    all_headers = {"Cache-Control": "no-store", **(headers or {})}
    response = request.make_response(data, headers=list(all_headers.items()), status=status)
    response.headers["Content-Type"] = f"{content_type}; charset=utf-8"
    return response


def url(path):
    """The absolute URL of an API path, as the client reached this server."""
    return request.httprequest.host_url.rstrip("/") + PREFIX + path


def json_body():
    """The request's JSON object, or a 400."""
    raw = request.httprequest.get_data(cache=True)
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"The request body is not valid JSON: {exc}.") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


def fields_of(body, spec):
    """Check ``body`` against ``spec`` ({name: (type, required)}): unknown
    fields and wrong types are a 400, missing required fields a 422."""
    unknown = sorted(set(body) - set(spec))
    if unknown:
        raise ApiError(400, f"Unknown field(s): {', '.join(unknown)}.")
    for name, (kind, required) in spec.items():
        if name not in body or body[name] is None:
            if required:
                raise ApiError(422, f"The field '{name}' is required.", field=name)
            continue
        if not isinstance(body[name], kind) or (kind is int and isinstance(body[name], bool)):
            expected = getattr(kind, "__name__", "value")
            raise ApiError(400, f"The field '{name}' must be of type {expected}.", field=name)
    return {name: body[name] for name in spec if body.get(name) is not None}


def page_args():
    args = request.httprequest.args
    try:
        limit = int(args.get("limit", 50))
        offset = int(args.get("offset", 0))
    except ValueError as exc:
        raise ApiError(400, "limit and offset must be integers.") from exc
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise ApiError(400, f"limit must be 1 to {MAX_PAGE}, offset 0 or more.")
    return limit, offset


def _authenticate():
    """The key's user id, once the key is known, active and within its rate
    limit. The key is looked up and its request counted in a transaction of
    their own, committed at once (READ COMMITTED: parallel requests of one
    key queue on its counter row instead of failing to serialise), so every
    worker counts the same requests."""
    match = BEARER.fullmatch(request.httprequest.headers.get("Authorization", ""))
    challenge = {"WWW-Authenticate": 'Bearer realm="ipai"'}
    if not match:
        raise ApiError(401, "Send an API key: 'Authorization: Bearer <key>'.", challenge)
    with request.env.registry.cursor() as cr:
        cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        env = api.Environment(cr, SUPERUSER_ID, {})
        key = env["ipai.api.key"]._authenticate(match.group(1))
        if not key:
            outcome = None
        elif not key._api_allowed(key.user_id):
            # The plan flag "API access", read at every request: a tenant
            # moved to a plan without it loses the API at once, keys or not.
            outcome = False
            refusal = key._api_refusal()
        else:
            limit = key._requests_per_minute()
            hits, reset = env["ipai.api.rate.window"]._hit(key.id)
            key._record_use(request.httprequest.remote_addr)
            outcome = (key.user_id.id, limit, hits, reset)
    if outcome is False:
        raise ApiError(403, refusal)
    if not outcome:
        raise ApiError(401, "This API key is unknown, expired or revoked.", challenge)
    uid, limit, hits, reset = outcome
    headers = {}
    if limit:
        headers = {
            "RateLimit-Limit": str(limit),
            "RateLimit-Remaining": str(max(limit - hits, 0)),
            "RateLimit-Reset": str(reset),
        }
        if hits > limit:
            raise ApiError(
                429,
                f"This key may make {limit} requests a minute; retry in {reset} s.",
                {**headers, "Retry-After": str(reset)},
            )
    return uid, headers


def _error_response(exc):
    if isinstance(exc, ApiError):
        return problem(exc.status, exc.detail, exc.headers, **exc.extensions)
    message = str(exc.args[0]) if exc.args else str(exc)
    if isinstance(exc, AccessDenied):
        return problem(401, message)
    if isinstance(exc, MissingError):
        return problem(404, message)
    if isinstance(exc, AccessError):
        return problem(403, message)
    if isinstance(exc, ValidationError):
        return problem(422, message)
    if isinstance(exc, UserError):
        # What the models refuse with a message: a state that does not allow
        # the action, an open job, a taken name.
        return problem(409, message)
    if isinstance(exc, psycopg2.IntegrityError):
        return problem(409, "A concurrent request made a conflicting change; try again.")
    _logger.exception("API request %s failed", request.httprequest.path)
    return problem(500, "The request failed on the server; nothing was changed.")


def endpoint(path, methods, authenticated=True):
    """Declare an API route on ``PREFIX + path``: the wrapped function gets
    the route's arguments and returns a Response, or raises."""

    def decorate(func):
        @functools.wraps(func)
        def wrapper(self, **kwargs):
            headers = {}
            try:
                if authenticated:
                    uid, headers = _authenticate()
                    request.update_env(user=uid)
                with request.env.cr.savepoint():
                    response = func(self, **kwargs)
            except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
                raise  # Odoo reruns the whole request, as for any route
            except Exception as exc:
                if isinstance(exc, ApiError):
                    exc.headers = {**headers, **exc.headers}
                response = _error_response(exc)
            for name, value in headers.items():
                response.headers.setdefault(name, value)
            return response

        return http.route(
            PREFIX + path,
            type="http",
            auth="none",
            methods=methods,
            csrf=False,
            save_session=False,
        )(wrapper)

    return decorate
