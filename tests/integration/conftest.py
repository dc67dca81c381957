"""Fixtures shared by the integration tests."""

from __future__ import annotations

import pytest

from db.engine import Database
from tests.integration.state import make_team


@pytest.fixture
def team(db: Database) -> Database:
    """The database with `ada` (admin) and the TEAM accounts of tests/integration/state.py."""
    return make_team(db)
