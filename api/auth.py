"""Who is calling: the bearer token's account, checked by core on every request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.governance.api_tokens import TokenPrincipal, authenticate_client
from core.record.activity import acting_through
from db.engine import Database

# auto_error off: a missing token is refused by core with the same 401 as a wrong one.
bearer = HTTPBearer(auto_error=False, description="An API token (`python -m core tokens create`).")


def database(request: Request) -> Database:
    return request.app.state.db


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
    # api/app.py's Gate checked the token before the body was read; `bearer` stays for the
    # OpenAPI document. Checked here as well only for an app mounted without the Gate.
    principal = getattr(request.state, "principal", None)
    if principal is not None:
        return Caller(principal)
    client = request.client.host if request.client else "unknown"
    token = credentials.credentials if credentials else None
    return Caller(authenticate_client(request.app.state.db, token, client,
                                      request.app.state.failed_tokens))
