"""Each engine's own bulk path for new tokens: COPY on PostgreSQL, one executemany per batch
on SQLite, both inside the caller's transaction. About three times faster than the ORM's
multi-row INSERT, which builds and binds every value through SQLAlchemy's type layer."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

TOKEN_COLUMNS = ("symbol", "name", "price", "volume_24h", "created_at")
NewToken = tuple[str, str, float, float, datetime]  # in TOKEN_COLUMNS order; created_at aware
_COLUMNS = ", ".join(TOKEN_COLUMNS)
_SQLITE_INSERT = f"INSERT INTO tokens ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
_PG_COPY = f"COPY tokens ({_COLUMNS}) FROM STDIN (FORMAT BINARY)"
_PG_TYPES = ["text", "text", "float8", "float8", "timestamptz"]


def dialect_insert(dialect: str, table: sa.Table) -> Any:
    """The engine's INSERT, which has ON CONFLICT."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    return insert(table)


def sqlite_time(moment: datetime) -> str:
    """The text SQLAlchemy stores for a UTC datetime on SQLite (db/types.UTCDateTime)."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(" ", "microseconds")[:26]


def insert_tokens(connection: sa.Connection, rows: Iterable[NewToken]) -> None:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(_SQLITE_INSERT, [
            (symbol, name, float(price), float(volume), sqlite_time(at))
            for symbol, name, price, volume, at in rows])
        return
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(_PG_COPY) as copy:
        copy.set_types(_PG_TYPES)
        for row in rows:
            copy.write_row(row)
