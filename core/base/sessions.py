"""The sessions core works in, and the one place database failures become core's exceptions.

Every core service opens its transaction with `writing(db)` (commit at the end, roll back on any
error) and every read with `reading(db)`. A driver error leaving either is translated here, once,
so that no entry point needs to know SQLAlchemy's exceptions: busy (try again), unavailable, a
change the database refused, a read that failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import sqlalchemy as sa

from core.base.errors import (Conflict, DatabaseBusy, DatabaseFailure, DatabaseUnavailable,
                              ReadFailed)
from db.engine import Database

if TYPE_CHECKING:  # the ORM loads with the first session: a Core read (`connected`) needs none
    import sqlalchemy.orm as so

# PostgreSQL SQLSTATEs meaning "another transaction was in the way", not "the database is gone":
# serialization_failure, deadlock_detected, lock_not_available (lock_timeout / NOWAIT).
_PG_BUSY = frozenset({"40001", "40P01", "55P03"})
# SQLite's primary result codes SQLITE_BUSY and SQLITE_LOCKED ("database is locked" once the
# busy_timeout has run out).
_SQLITE_BUSY = frozenset({5, 6})
# SQLite raises OperationalError for SQL-level failures too (SQLITE_ERROR: "integer overflow",
# "no such table"), so its file-level codes decide "cannot be used": PERM, READONLY, IOERR,
# CORRUPT, FULL, CANTOPEN, NOTADB.
_SQLITE_UNAVAILABLE = frozenset({3, 8, 10, 11, 13, 14, 26})

# What leaves SQLAlchemy when a database fails (a tuple: `except` takes no union types).
DriverError = (sa.exc.DBAPIError, sa.exc.TimeoutError)


def reason_of(error: BaseException) -> str:
    """The driver's first line, short enough for a one-line message."""
    cause = getattr(error, "orig", None) or error
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0][:200]


def _is_busy(error: sa.exc.DBAPIError) -> bool:
    orig = error.orig
    if getattr(orig, "sqlstate", None) in _PG_BUSY:
        return True
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in _SQLITE_BUSY:
        return True
    return "database is locked" in str(orig) or "database table is locked" in str(orig)


def _is_unavailable(error: sa.exc.DBAPIError) -> bool:
    if error.connection_invalidated or isinstance(error, sa.exc.InterfaceError):
        return True
    code = getattr(error.orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _SQLITE_UNAVAILABLE
    # PostgreSQL (psycopg): OperationalError is SQLSTATE classes 08 (connection), 53 (resources),
    # 57 (operator intervention, e.g. a server shut down), 58 (system error).
    return isinstance(error, sa.exc.OperationalError)


def translate(error: sa.exc.SQLAlchemyError, *, writing: bool) -> DatabaseFailure | Conflict:
    """The core exception for a database failure (`writing`: inside a write transaction)."""
    reason = reason_of(error)
    failure = _classify(error, writing, reason)
    failure.reason = reason
    return failure


def _classify(error: sa.exc.SQLAlchemyError, writing: bool, reason: str) -> DatabaseFailure | Conflict:
    if isinstance(error, sa.exc.TimeoutError):  # every pooled connection in use
        return DatabaseBusy(f"database: busy, no connection free; try again ({reason})")
    if not isinstance(error, sa.exc.DBAPIError):
        return DatabaseUnavailable(f"database: cannot be reached ({reason})")
    if _is_busy(error):
        return DatabaseBusy(f"database: busy with another change; try again ({reason})")
    if _is_unavailable(error):
        return DatabaseUnavailable(f"database: cannot be reached ({reason})")
    if writing:
        return Conflict(f"database: refused the change ({reason})")
    return ReadFailed(f"database: the read failed ({reason})")


@contextmanager
def database_failures(*, writing: bool) -> Iterator[None]:
    """Run a block; a database failure inside it leaves as core's own exception."""
    try:
        yield
    except DriverError as error:
        raise translate(error, writing=writing) from error


@contextmanager
def writing(db: Database) -> Iterator[so.Session]:
    """One write transaction: committed when the block ends, rolled back on any error (so a
    refusal writes nothing). The commit itself is inside the translation."""
    with database_failures(writing=True), db.sessions.begin() as session:
        yield session


@contextmanager
def reading(db: Database) -> Iterator[so.Session]:
    """A read-only session (on SQLite it never takes the write lock)."""
    with database_failures(writing=False), db.reads() as session:
        yield session


@contextmanager
def connected(db: Database) -> Iterator[sa.Connection]:
    """A read-only Core connection, for reads that build no ORM objects (see core/allocation/current.py)."""
    with database_failures(writing=False), db.reader.connect() as connection:
        yield connection
