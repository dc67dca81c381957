"""Engines and sessions. SQLite gets the pragmas that make it a safe multi-process store."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from db.rollup import register_sqlite_functions

if TYPE_CHECKING:
    import sqlalchemy.orm as so

SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "profit_allocation_read_only"


def _sqlite_file(url: sa.URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _configure_sqlite(engine: sa.Engine, file_backed: bool) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if file_backed:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()
        # Exact decimal sums (the token roll-up, money): SQLite's own SUM goes through doubles.
        register_sqlite_functions(dbapi_connection)

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # Writes: IMMEDIATE takes the write lock up front, so two processes approving at the same
        # moment queue on busy_timeout instead of both reading the old current row and one
        # failing late. Reads: a plain (deferred) BEGIN, which under WAL never waits for a writer.
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> sa.Engine:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_file(parsed)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {}).setdefault("check_same_thread", False)
        engine = sa.create_engine(url, **kwargs)
        _configure_sqlite(engine, file_backed=path is not None)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, **kwargs)


@dataclass(frozen=True)
class Database:
    """What core services need: the engine, a session factory for writes (`sessions`, used as
    `sessions.begin()`), one for reads (`reads`) and an engine for Core reads (`reader`); the
    read ones on SQLite never take the write lock.

    The session factories are made on first use: importing the ORM costs a command like
    `python -m core current`, which reads through Core, a tenth of its start-up budget."""

    engine: sa.Engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @cached_property
    def reader(self) -> sa.Engine:
        return self.engine.execution_options(**{READ_ONLY: True})

    @cached_property
    def sessions(self) -> so.sessionmaker[so.Session]:
        import sqlalchemy.orm as so

        return so.sessionmaker(self.engine, expire_on_commit=False)

    @cached_property
    def reads(self) -> so.sessionmaker[so.Session]:
        import sqlalchemy.orm as so

        return so.sessionmaker(self.reader, expire_on_commit=False)


def open_database(url: str, **kwargs: Any) -> Database:
    return Database(make_engine(url, **kwargs))
