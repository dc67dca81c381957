"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import Result
from typer.testing import CliRunner

from cli import app
from db.engine import Database, open_database
from tests.integration.state import make_team


@pytest.fixture
def team(db: Database) -> Database:
    """The database with `ada` (admin) and the TEAM accounts of tests/integration/state.py."""
    return make_team(db)


@pytest.fixture
def team_url(db_url: str) -> str:
    """The URL of a database holding the team (for commands run through the CLI)."""
    database = open_database(db_url)
    make_team(database)
    database.engine.dispose()
    return db_url


@pytest.fixture
def run(team_url: str) -> Callable[..., Result]:
    """`python -m core --db URL ARGS...` in process, on the team's database."""
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["--db", team_url, *args])
