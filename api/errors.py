"""Core's refusals as HTTP problem details (RFC 9457), with the CLI's one-line messages.

The one place where the API turns failures into status codes: a route only calls core, which has
already translated database failures into its own exceptions (`core.base.sessions`).
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from core.base.errors import (Busy, DatabaseBusy, DatabaseFailure, DomainError, NotAuthenticated,
                              NotFound, PermissionDenied, Refused, Throttled, ValidationFailed)

log = logging.getLogger("api")
PROBLEM_JSON = "application/problem+json"
# What a caller learns when the database fails: not its host, port or driver's words (those go to
# the operator's log).
DATABASE_UNAVAILABLE = "database: unavailable"
# Messages echo what the caller sent (an id, a key): a long run of it is cut, so an answer is
# never a mirror for 10,000 characters of someone else's input.
ECHO_LIMIT = 40
MESSAGE_LIMIT = 500
_LONG_RUN = re.compile(r"\S{%d,}" % (ECHO_LIMIT + 1))

# Most specific first: Throttled is a Refused, PermissionDenied too.
STATUS_OF: tuple[tuple[type[DomainError], HTTPStatus], ...] = (
    (NotAuthenticated, HTTPStatus.UNAUTHORIZED),
    (Throttled, HTTPStatus.TOO_MANY_REQUESTS),
    (PermissionDenied, HTTPStatus.FORBIDDEN),
    (NotFound, HTTPStatus.NOT_FOUND),
    (ValidationFailed, HTTPStatus.UNPROCESSABLE_ENTITY),
    # Not reached, busy past the lock timeout, a failed read: nothing was decided, try later.
    (DatabaseFailure, HTTPStatus.SERVICE_UNAVAILABLE),
    (Busy, HTTPStatus.SERVICE_UNAVAILABLE),
    (Refused, HTTPStatus.CONFLICT),  # Conflict (a change the database refused) included
)


# What each refusal means, for the OpenAPI document: every route lists the ones it can answer.
MEANING: dict[HTTPStatus, str] = {
    HTTPStatus.BAD_REQUEST: "the body is not valid JSON",
    HTTPStatus.UNAUTHORIZED: "no token, or an unknown, expired or revoked one",
    HTTPStatus.FORBIDDEN: "the token's role may not do this, or a governance rule (four-eyes, "
                          "a second factor, a label only the rebalancer gives) refuses it",
    HTTPStatus.NOT_FOUND: "no such proposal or experiment",
    HTTPStatus.CONFLICT: "a state that does not allow it (not pending, already reviewed, paused, "
                         "another amount under this key, over the policy's cap, unusually large "
                         "without `confirm_total`, an identical proposal already pending, "
                         "an experiment whose time overlaps another's)",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "the body is larger than the limit",
    HTTPStatus.UNPROCESSABLE_ENTITY: "a value breaks a rule; `errors` names each field and rule",
    HTTPStatus.TOO_MANY_REQUESTS: "too many bad tokens from this client; wait `Retry-After` seconds",
    HTTPStatus.SERVICE_UNAVAILABLE: "the database cannot be reached or is busy; nothing was "
                                    "decided, try again",
}
_HEADER = {"schema": {"type": "string"}}
HEADERS: dict[HTTPStatus, dict[str, Any]] = {
    HTTPStatus.UNAUTHORIZED: {"WWW-Authenticate": {**_HEADER, "description": "`Bearer`"}},
    HTTPStatus.TOO_MANY_REQUESTS: {"Retry-After": {**_HEADER, "description": "seconds"}},
}


def documented(*statuses: HTTPStatus) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of these refusals: problem details, as `problem` sends them."""
    return {status.value: {
        "description": MEANING[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
        **({"headers": HEADERS[status]} if status in HEADERS else {})} for status in statuses}


def problem(status: HTTPStatus | int, errors: list[str], headers: dict[str, str] | None = None,
            extra: dict[str, Any] | None = None) -> JSONResponse:
    """A problem details answer; `extra` adds members (RFC 9457 allows extensions)."""
    status = HTTPStatus(status)
    errors = [capped(e) for e in errors]
    return JSONResponse(
        {"type": "about:blank", "title": status.phrase, "status": status.value,
         "detail": "; ".join(errors), "errors": errors, **(extra or {})},
        status_code=status.value, media_type=PROBLEM_JSON, headers=headers)


def capped(message: str) -> str:
    message = _LONG_RUN.sub(lambda run: run.group()[:ECHO_LIMIT] + "…", message)
    return message if len(message) <= MESSAGE_LIMIT else message[:MESSAGE_LIMIT] + "…"


def database_problems(error: DatabaseFailure) -> list[str]:
    """The caller's one line for a database failure; the reason is logged for the operator."""
    log.warning("database failure: %s", "; ".join(error.problems))
    return [DATABASE_UNAVAILABLE]


def status_of(error: DomainError) -> HTTPStatus:
    for kind, status in STATUS_OF:
        if isinstance(error, kind):
            return status
    return HTTPStatus.CONFLICT


def _domain(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    return domain_problem(error)


def domain_problem(error: DomainError) -> JSONResponse:
    """Core's refusal as its status and problem details (also used before routing: api/app.py)."""
    status = status_of(error)
    problems = error.problems
    headers = None
    if status == HTTPStatus.UNAUTHORIZED:
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(error, (Throttled, Busy)):
        headers = {"Retry-After": str(max(1, round(error.retry_after)))}
    elif isinstance(error, DatabaseBusy):
        headers = {"Retry-After": "1"}
    if isinstance(error, DatabaseFailure):
        problems = database_problems(error)
    return problem(status, problems, headers)


def _field(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


# Pydantic's own wording for the failures that are not core's rules (a missing field, a value of
# the wrong kind), in core's style: "field: what is wrong".
PYDANTIC_MESSAGES = {
    "missing": "missing",
    "extra_forbidden": "is not a field of this request",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
}


def validation_messages(errors: list[dict[str, Any]]) -> list[str]:
    messages: list[str] = []
    for error in errors:
        cause = (error.get("ctx") or {}).get("error")
        problems = getattr(cause, "problems", None)
        if problems:  # one of core's own rules, raised inside a request model (api/schemas.py)
            messages.extend(problems)
            continue
        wording = PYDANTIC_MESSAGES.get(error["type"], str(error.get("msg", "invalid")).lower())
        messages.append(f"{_field(tuple(error.get('loc', ())))}: {wording}")
    return list(dict.fromkeys(messages))


def _request_validation(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = list(error.errors())
    if any(e["type"] == "json_invalid" for e in errors):
        return problem(HTTPStatus.BAD_REQUEST, ["body: not valid JSON"])
    return problem(HTTPStatus.UNPROCESSABLE_ENTITY, validation_messages(errors))


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """Every method the request's path is served with, found by asking the router as it would
    route each one. Starlette's own 405 names only the first route that matched the path (GET
    of GET and POST /api/v1/proposals)."""
    routes = request.app.router.routes
    served = [m for m in METHODS
              if any(r.matches({**request.scope, "method": m})[0] == Match.FULL for r in routes)]
    return ", ".join(served)


def _http(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    status = HTTPStatus(error.status_code)
    detail = error.detail if isinstance(error.detail, str) else status.phrase
    headers = dict(getattr(error, "headers", None) or {})
    if status == HTTPStatus.METHOD_NOT_ALLOWED:
        headers["Allow"] = allowed_methods(request)
    return problem(status, [f"request: {detail.lower()}"], headers or None)


def _unexpected(request: Request, error: Exception) -> JSONResponse:
    # Logged for the operator with its traceback; the caller gets one line and no internals.
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return problem(HTTPStatus.INTERNAL_SERVER_ERROR, ["server: unexpected error (logged)"])


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
