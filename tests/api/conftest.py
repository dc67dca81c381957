"""An API client on each engine, with a team of accounts and a token for each."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.governance.accounts import add_user
from core.governance.api_tokens import create_token
from db.engine import Database

TEAM = {"ada": "admin", "ann": "analyst", "gus": "governor", "gil": "governor", "vic": "viewer"}


@dataclass
class Api:
    """A TestClient with a bearer token per account: `api.as_("ann").post(...)`."""

    client: TestClient
    db: Database
    tokens: dict[str, str]
    token_ids: dict[str, str]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, who: str, url: str, **kwargs):
        return self.client.get(url, headers=self.headers(who), **kwargs)

    def post(self, who: str, url: str, *, headers: dict[str, str] | None = None, **kwargs):
        return self.client.post(url, headers={**self.headers(who), **(headers or {})}, **kwargs)


def seed_team(db: Database) -> tuple[dict[str, str], dict[str, str]]:
    for name, role in TEAM.items():
        add_user(db, name, role, None, by="ada" if name != "ada" else None,
                 email=f"{name}@example.org")
    issued = {name: create_token(db, name, f"{name}'s key", by="ada") for name in TEAM}
    return ({n: t.token for n, t in issued.items()}, {n: t.info.id for n, t in issued.items()})


@pytest.fixture
def api(db: Database) -> Iterator[Api]:
    tokens, ids = seed_team(db)
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield Api(client, db, tokens, ids)
