"""The token roll-up's SQL that both the migration and core use: filling it from the raw table,
and the exact arithmetic SQLite lacks (registered on every SQLite connection by db/engine.py).

Exact means: a token's price (a double) counts as the decimal it prints as, the shortest text
that reads back as the same double. Python's `repr` and PostgreSQL's float8 output (with
`extra_float_digits` >= 1, the default since PostgreSQL 12) both give that text, so a sum made
in Python while loading equals the sum PostgreSQL makes from the raw rows, to the last digit.
"""

from __future__ import annotations

from decimal import Context, Decimal
from typing import Any

TABLE = "token_activity_rollup"
MINUTE, HOUR, DAY = 60, 3600, 86400
WIDTHS = (MINUTE, HOUR, DAY)
# Enough digits for any sum of doubles written as decimals (from 1e308 down to 5e-324, plus
# room for ten billion of them): additions in this context never round.
EXACT = Context(prec=800)


def exact(value: float) -> Decimal:
    """A double as the decimal it prints as."""
    return Decimal(repr(float(value)))


class _ExactFloatSum:
    """SQLite aggregate: the exact sum of doubles taken as the decimals they print as."""

    def __init__(self) -> None:
        self.total: Decimal | None = None

    def step(self, value: Any) -> None:
        if value is not None:
            self.total = EXACT.add(self.total or Decimal(0), Decimal(repr(float(value))))

    def finalize(self) -> str | None:
        return None if self.total is None else str(self.total)


class _ExactTextSum:
    """SQLite aggregate: the exact sum of decimals stored as text."""

    def __init__(self) -> None:
        self.total: Decimal | None = None

    def step(self, value: Any) -> None:
        if value is not None:
            self.total = EXACT.add(self.total or Decimal(0), Decimal(str(value)))

    def finalize(self) -> str | None:
        return None if self.total is None else str(self.total)


def _decimal_add(left: Any, right: Any) -> str | None:
    if left is None or right is None:
        return None
    return str(EXACT.add(Decimal(str(left)), Decimal(str(right))))


def register_sqlite_functions(dbapi_connection: Any) -> None:
    dbapi_connection.create_aggregate("exact_float_sum", 1, _ExactFloatSum)
    dbapi_connection.create_aggregate("exact_text_sum", 1, _ExactTextSum)
    dbapi_connection.create_function("decimal_add", 2, _decimal_add, deterministic=True)


# --- bucket expressions ------------------------------------------------------------------------
# SQLite keeps times as 'YYYY-MM-DD HH:MM:SS.ffffff' text (SQLAlchemy's format), so a bucket is
# a prefix of it; PostgreSQL truncates in UTC, whatever the session's time zone.

# The colons are escaped: these statements run as sa.text(), where ":00" would be a parameter.
_SQLITE_PREFIX = {MINUTE: (16, r"\:00.000000"), HOUR: (13, r"\:00\:00.000000"),
                  DAY: (10, r" 00\:00\:00.000000")}
_PG_UNIT = {MINUTE: "minute", HOUR: "hour", DAY: "day"}


def bucket_of(dialect: str, column: str, width: int) -> str:
    if dialect == "sqlite":
        length, tail = _SQLITE_PREFIX[width]
        return f"substr({column}, 1, {length}) || '{tail}'"
    return f"date_trunc('{_PG_UNIT[width]}', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"


def exact_sum_of_doubles(dialect: str, column: str) -> str:
    if dialect == "sqlite":
        return f"exact_float_sum({column})"
    return f"sum(CAST(CAST({column} AS TEXT) AS NUMERIC))"


def exact_sum_of_decimals(dialect: str, column: str) -> str:
    return f"exact_text_sum({column})" if dialect == "sqlite" else f"sum({column})"


def prepare_statements(dialect: str) -> list[str]:
    """Session settings the exact sums rely on (PostgreSQL: shortest float output; no JIT,
    which only adds compile time to these short queries)."""
    if dialect == "postgresql":
        return ["SET LOCAL extra_float_digits = 1; SET LOCAL jit = off"]
    return []


def raw_minutes_query(dialect: str) -> str:
    """(bucket_start, tokens, price_sum, volume_sum) per minute, from the raw table."""
    bucket = bucket_of(dialect, "created_at", MINUTE)
    return (f"SELECT {bucket} AS bucket_start, count(*) AS tokens, "
            f"{exact_sum_of_doubles(dialect, 'price')} AS price_sum, "
            f"{exact_sum_of_doubles(dialect, 'volume_24h')} AS volume_sum "
            f"FROM tokens GROUP BY {bucket}")


def fill_statements(dialect: str) -> list[str]:
    """Empty the roll-up and fill it from the raw table: minutes from the tokens, hours from
    the minutes, days from the hours."""
    columns = "width, bucket_start, tokens, price_sum, volume_sum"
    statements = [*prepare_statements(dialect), f"DELETE FROM {TABLE}",
                  f"INSERT INTO {TABLE} ({columns}) SELECT {MINUTE}, bucket_start, tokens, "
                  f"price_sum, volume_sum FROM ({raw_minutes_query(dialect)}) raw"]
    for finer, width in ((MINUTE, HOUR), (HOUR, DAY)):
        bucket = bucket_of(dialect, "bucket_start", width)
        statements.append(
            f"INSERT INTO {TABLE} ({columns}) SELECT {width}, {bucket}, sum(tokens), "
            f"{exact_sum_of_decimals(dialect, 'price_sum')}, "
            f"{exact_sum_of_decimals(dialect, 'volume_sum')} "
            f"FROM {TABLE} WHERE width = {finer} GROUP BY {bucket}")
    return statements
