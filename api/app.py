"""The FastAPI application around one database."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors
from api.routes import ROUTERS
from api.voting_routes import ROUTERS as VOTING_ROUTERS
from api.voting_routes import VoteRateLimit
from api.schemas import MetricsIn, ProblemDetails
from core.base.errors import DomainError
from core.governance.api_tokens import FailedTokenAttempts, authenticate_client
from db.engine import Database

DESCRIPTION = """The HTTP face of the dynamic profit allocation system. Every route but `/health`,
the community votes (`/api/v1/proposals/{id}/votes`, whose credential is the vote's EIP-712
signature) and a holder's weight proof (`/api/v1/voting/snapshots/{id}/proof/{address}`: holders
have no accounts) needs `Authorization: Bearer TOKEN` (`python -m core tokens create`). Errors are
`application/problem+json` (RFC 9457) whose `errors` are the CLI's one-line messages. A request
body may hold at most 1 MB."""

DOCS_URL, REDOC_URL, OPENAPI_URL = "/docs", "/redoc", "/openapi.json"
# Swagger UI's and ReDoc's scripts, served from the fastapi-offline package: the docs work on a
# machine without internet (a CDN would leave the page blank there).
DOCS_ASSETS = "/docs-assets"

MAX_BODY_BYTES = 1_000_000  # 1 MB: the largest body here (a proposal's reasoning) is far smaller
TOO_LARGE = f"body: larger than {MAX_BODY_BYTES // 1_000_000} MB"
# Served without a token: the votes (the signature is the credential), the page holders vote on,
# and a holder's weight proof (holders have no accounts).
PUBLIC_PATHS = re.compile(r"/vote/[^/]+|/api/v1/proposals/[^/]+/votes"
                          r"|/api/v1/voting/snapshots/[^/]+/proof/[^/]+")


def bearer_token(scope: Scope) -> str | None:
    """The token of `Authorization: Bearer TOKEN`, read as fastapi.security.HTTPBearer reads it."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            return credentials.strip() or None if scheme.lower() == "bearer" else None
    return None


class Gate:
    """Before a route reads anything: the token (so a caller without one learns nothing, not even
    whether its JSON parses, and costs no more than a header), then the body, at most
    MAX_BODY_BYTES of it whether declared in Content-Length or streamed in chunks.

    A pure ASGI middleware: the body is read here, counted, and handed on whole (it is small by
    then), so no route ever sees a byte past the limit. The principal goes on to api/auth.py in
    the request's state."""

    def __init__(self, app: ASGIApp, db: Database, attempts: FailedTokenAttempts,
                 public: frozenset[str], public_prefix: str,
                 public_pattern: re.Pattern[str] = PUBLIC_PATHS) -> None:
        self.app, self.db, self.attempts = app, db, attempts
        self.public, self.public_prefix = public, public_prefix
        self.public_pattern = public_pattern

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if (path not in self.public and not path.startswith(self.public_prefix)
                and not self.public_pattern.fullmatch(path)):
            client = scope["client"][0] if scope.get("client") else "unknown"
            try:
                principal = await run_in_threadpool(authenticate_client, self.db,
                                                    bearer_token(scope), client, self.attempts)
            except DomainError as error:
                await errors.domain_problem(error)(scope, receive, send)
                return
            scope.setdefault("state", {})["principal"] = principal
        body = await self._read_body(scope, receive)
        if body is None:
            await errors.problem(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, [TOO_LARGE])(
                scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    @staticmethod
    async def _read_body(scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, or None past MAX_BODY_BYTES (declared or counted)."""
        declared = dict(scope.get("headers", ())).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nothing to answer
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: a disconnect, as the server would say

    return replay


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus the schemas the routes refer to by name: the problem details
    every refusal answers with, and the rebalancer's `metrics` (checked by core, not pydantic)."""
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version,
                               description=app.description, routes=app.routes)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        # FastAPI adds its own 422 (a list of `detail`s as application/json) to a route with
        # parameters that documents none: such a route (a path id) is never refused so.
        fastapi_422 = "#/components/schemas/HTTPValidationError"
        for operations in document["paths"].values():
            for operation in operations.values():
                answer = operation["responses"].get("422", {})
                if answer.get("content", {}).get("application/json", {}).get(
                        "schema", {}).get("$ref") == fastapi_422:
                    del operation["responses"]["422"]
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        for model in (ProblemDetails, MetricsIn):
            schemas[model.__name__] = model.model_json_schema(
                ref_template="#/components/schemas/{model}")
        app.openapi_schema = document
    return app.openapi_schema


def create_app(db: Database) -> FastAPI:
    """The API on `db` (already upgraded: `core.database.connect` does it on start)."""
    app = FastAPIOffline(docs_url=DOCS_URL, redoc_url=REDOC_URL, openapi_url=OPENAPI_URL,
                         static_url=DOCS_ASSETS, title="Dynamic profit allocation API",
                         version="1", description=DESCRIPTION)
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    app.state.db = db
    app.state.failed_tokens = FailedTokenAttempts()
    app.state.vote_limit = VoteRateLimit()
    app.state.proof_limit = VoteRateLimit(what="proofs")
    errors.install(app)
    for router in (*ROUTERS, *VOTING_ROUTERS):
        app.include_router(router)
    public = {"/health", DOCS_URL, REDOC_URL, OPENAPI_URL, app.swagger_ui_oauth2_redirect_url}
    app.add_middleware(Gate, db=db, attempts=app.state.failed_tokens,
                       public=frozenset(p for p in public if p), public_prefix=DOCS_ASSETS + "/")
    return app
