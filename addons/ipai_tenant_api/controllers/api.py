"""The machinery every route of the REST API shares: Bearer-key
authentication, the per-key rate limit, JSON in and out, and errors as
problem details (RFC 9457). A route runs as the key's user, through the same
model methods and record rules as the forms; its writes sit in a savepoint,
so a refused request leaves nothing behind."""

import dataclasses
import functools
import inspect
import json
import logging
import re
from http import HTTPStatus

import psycopg2
from odoo import SUPERUSER_ID, api, http
from odoo.exceptions import AccessDenied, AccessError, MissingError, UserError, ValidationError
from odoo.http import request
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY

from .schema import Invalid, Operation
from .shapes import PATH_PARAMS

_logger = logging.getLogger(__name__)

PREFIX = "/api/v1"
PROBLEM_TYPE = "about:blank"
BEARER = re.compile(r"Bearer\s+(\S+)\s*", re.IGNORECASE)
ROUTE_VARIABLE = re.compile(r"<(?:(\w+):)?(\w+)>")
# Every documented operation, by its path in the document and its method;
# openapi.py writes the document from it.
OPERATIONS = {}


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
    if isinstance(exc, Invalid):
        return problem(exc.status, exc.detail, **({"field": exc.field} if exc.field else {}))
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


def _read_param(param):
    if param.location == "header":
        return request.httprequest.headers.get(param.name)
    return request.httprequest.args.get(param.name)


def operation(**documentation):
    """Declare what a route takes and answers: the fields of a
    schema.Operation, under its @endpoint. The endpoint checks the
    parameters and body with them and openapi.py documents them."""

    def attach(func):
        func.api_operation = Operation(**documentation)
        return func

    return attach


def _declare(path, methods, authenticated, variables, declared):
    """``declared`` completed and documented on each method of ``path``:
    its path parameters are the route's variables, declared once in
    shapes.PATH_PARAMS."""
    path_params = tuple(PATH_PARAMS[name] for name in variables)
    declared = dataclasses.replace(
        declared, params=path_params + declared.params, authenticated=authenticated
    )
    for method in methods:
        OPERATIONS[(ROUTE_VARIABLE.sub(r"{\2}", path), method.lower())] = declared
    return declared


def endpoint(path, methods, authenticated=True):
    """Declare an API route on ``PREFIX + path``, documented by its
    @operation (none: an undocumented route). The wrapped function gets the
    route's variables, ``params`` (the operation's query and header
    parameters, checked) if it declares any and ``body`` (the JSON body,
    checked) if it declares one; it returns a Response or raises."""
    variables = [name for _converter, name in ROUTE_VARIABLE.findall(path)]

    def decorate(func):
        declared = getattr(func, "api_operation", None)
        if declared:
            declared = _declare(path, methods, authenticated, variables, declared)

        @functools.wraps(func)
        def wrapper(self, **kwargs):
            headers = {}
            arguments = {name: kwargs[name] for name in variables}
            try:
                if authenticated:
                    uid, headers = _authenticate()
                    request.update_env(user=uid)
                with request.env.cr.savepoint():
                    if declared and declared.checked_params:
                        arguments["params"] = declared.parse_params(_read_param)
                    if declared and declared.body:
                        arguments["body"] = declared.body.parse(json_body(), "body")
                    response = func(self, **arguments)
            except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
                raise  # Odoo reruns the whole request, as for any route
            except Exception as exc:
                if isinstance(exc, ApiError):
                    exc.headers = {**headers, **exc.headers}
                response = _error_response(exc)
            for name, value in headers.items():
                response.headers.setdefault(name, value)
            return response

        # Odoo passes a route its query string as keyword arguments; this one
        # reads its parameters from the declaration, so it takes them all
        # (and Odoo logs no "ignoring args" warning).
        wrapper.__signature__ = inspect.signature(lambda self, **kwargs: None)
        return http.route(
            PREFIX + path,
            type="http",
            auth="none",
            methods=methods,
            csrf=False,
            save_session=False,
        )(wrapper)

    return decorate
