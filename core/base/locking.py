"""Serialising the writes that must not interleave (activations, policy versions, the ledger)."""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm as so

# One application-wide advisory lock key; the writes it guards are rare and short.
_ADVISORY_KEY = 7_301_942_113


def serialize_writes(session: so.Session) -> None:
    """Wait for any other transaction holding the allocation lock, until this one ends.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: nothing to do, every transaction
    already starts with BEGIN IMMEDIATE (see `db/engine.py`), which takes the database's write lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_ADVISORY_KEY)))
