"""The split in force, read with SQLAlchemy Core: `python -m core current` starts fast because
this imports neither the ORM nor the models (db/tables.py says why)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from core.allocation.records import CurrentAllocation
from core.base.sessions import connected
from db.engine import Database
from db.tables import ALLOCATION_LOG, in_force

if TYPE_CHECKING:
    import sqlalchemy.orm as so

CURRENT_ALLOCATION = sa.select(ALLOCATION_LOG).where(*in_force(ALLOCATION_LOG.c))


def read_current_allocation(connection: sa.Connection | so.Session) -> CurrentAllocation:
    """The split in force, read on `connection`, or on a session inside a write transaction."""
    return CurrentAllocation.of(connection.execute(CURRENT_ALLOCATION).first())


def get_current_allocation(db: Database) -> CurrentAllocation:
    """The split in force, or the built-in 80/15/3/2 (source "default") if none is active."""
    with connected(db) as connection:
        return read_current_allocation(connection)
