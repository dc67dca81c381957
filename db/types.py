"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on both engines.

    SQLite has no time zones: values are stored as naive UTC and given their zone back on read.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC datetime is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ExactDecimal(sa.TypeDecorator[Decimal]):
    """An exact decimal on both engines: NUMERIC on PostgreSQL; on SQLite, text, because SQLite
    would keep it as a float.

    Used for money (the default, NUMERIC(24, 2): 18 digits before the point must survive
    exactly) and, with `precision=None, scale=None`, for exact running sums of market figures
    (the token roll-up): NUMERIC without limits, since a sum of doubles written as decimals can
    need hundreds of places. Percentages use plain Numeric: SQLite's numeric affinity keeps them
    comparable in CHECK constraints and 5 digits are exact in a double.
    """

    impl = sa.Numeric(24, 2)
    cache_ok = True

    def __init__(self, precision: int | None = 24, scale: int | None = 2) -> None:
        super().__init__()
        self.precision, self.scale = precision, scale

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            text = sa.Text() if self.precision is None else sa.String(self.precision + 2)
            return dialect.type_descriptor(text)
        return dialect.type_descriptor(sa.Numeric(self.precision, self.scale))

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value)
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


class new_uuid(FunctionElement[Any]):
    """A server-side random UUID, so raw SQL inserts (the seed's report query) get an id."""

    type = sa.Uuid()
    inherit_cache = True


@compiles(new_uuid, "postgresql")
def _pg_new_uuid(element: Any, compiler: Any, **kw: Any) -> str:
    return "gen_random_uuid()"


@compiles(new_uuid, "sqlite")
def _sqlite_new_uuid(element: Any, compiler: Any, **kw: Any) -> str:
    # sa.Uuid stores 32 hex digits without dashes on SQLite.
    return "(lower(hex(randomblob(16))))"
