"""The FastAPI application around one database."""

from __future__ import annotations

from fastapi import FastAPI

from api import errors
from api.routes import ROUTERS
from core.governance.api_tokens import FailedTokenAttempts
from db.engine import Database

DESCRIPTION = """The HTTP face of the dynamic profit allocation system. Every route but `/health`
needs `Authorization: Bearer TOKEN` (`python -m core tokens create`). Errors are
`application/problem+json` (RFC 9457) whose `errors` are the CLI's one-line messages."""


def create_app(db: Database) -> FastAPI:
    """The API on `db` (already upgraded: `core.database.connect` does it on start)."""
    app = FastAPI(title="Dynamic profit allocation API", version="1", description=DESCRIPTION)
    app.state.db = db
    app.state.failed_tokens = FailedTokenAttempts()
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    return app
