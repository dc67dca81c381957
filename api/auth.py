"""Who is calling: the bearer token's account, checked by core on every request, and whether its
role may do what a route does, checked before the route reads its body."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.base.errors import PermissionDenied
from core.governance.actors import ROLE_RANK, a_role
from core.governance.api_tokens import TokenPrincipal, authenticate_client
from core.record.activity import acting_through
from db.engine import Database

# auto_error off: a missing token is refused by core with the same 401 as a wrong one.
bearer = HTTPBearer(auto_error=False, description="An API token (`python -m core tokens create`).")


def database(request: Request) -> Database:
    return request.app.state.db


def principal_of(request: Request) -> TokenPrincipal:
    """The token's account: api/app.py's Gate checked it before the body was read. Checked here
    as well only for an app mounted without the Gate."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        client = request.client.host if request.client else "unknown"
        principal = authenticate_client(request.app.state.db,
                                        token.strip() or None if scheme.lower() == "bearer" else None,
                                        client, request.app.state.failed_tokens)
        request.state.principal = principal
    return principal


@dataclass(frozen=True)
class Needs:
    """The role a route needs, and the action as core names it in its refusal."""

    role: str
    action: str

    def check(self, principal: TokenPrincipal) -> None:
        """Refuse a junior role with core's own words (core.governance.actors.resolve_actor
        checks again inside the service, with the account as it is then)."""
        if ROLE_RANK[principal.role] < ROLE_RANK[self.role]:
            raise PermissionDenied(
                f"by: {principal.username} is {a_role(principal.role)}; {self.action} needs the "
                f"{self.role} role or higher")


# The routes that need more than a viewer, by endpoint (api/routes.py's GuardedRoute reads it).
NEEDS: dict[Callable[..., Any], Needs] = {}
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def needs(role: str, action: str) -> Callable[[Endpoint], Endpoint]:
    """Mark an endpoint as needing `role` (written under the route's decorator)."""
    def mark(endpoint: Endpoint) -> Endpoint:
        NEEDS[endpoint] = Needs(role, action)
        return endpoint
    return mark


@dataclass(frozen=True)
class Caller:
    principal: TokenPrincipal

    @property
    def by(self) -> str:
        return self.principal.username

    @contextmanager
    def acting(self) -> Iterator[None]:
        """Writes inside this block name the token as well as the account in protocol_activity."""
        with acting_through(channel="api", token_id=self.principal.token_id):
            yield


def caller(request: Request,
           credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Caller:
    # `credentials` is here for the OpenAPI document (the bearer scheme on every route).
    del credentials
    return Caller(principal_of(request))
