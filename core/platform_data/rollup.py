"""The token activity roll-up: maintenance (apply a batch, rebuild, check) and exact reads.

`token_activity_rollup` holds, per bucket of three widths (minute, hour, day), the number of
tokens launched and the exact sums of their prices and 24 h volumes (see db/rollup.py for what
"exact" means for a double). Every write to `tokens` calls `apply_batch` in its own transaction,
once per batch of rows, never per row: a token moved by an update leaves its old buckets and
enters its new ones.

Reads take any set of half-open ranges [lo, hi) and answer each exactly: the whole days, hours
and minutes inside a range come from the roll-up, and only part of the minute at each of its
edges is read from the raw table (through the covering index): the shorter side of the edge,
added, or subtracted from the whole minute's bucket (likewise the minutes at an edge: the
shorter side of its hour). A range costs a handful of index lookups whatever its length,
ranges meeting at an edge share its lookups, and the numbers equal a scan of the raw table to
the token.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, localcontext
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.base.sessions import reading, writing
from core.record.activity import record_activity
from db import bulk
from db import rollup as sql
from db.engine import Database
from db.models import TokenActivityRollup

MINUTE, HOUR, DAY = sql.MINUTE, sql.HOUR, sql.DAY
RAW = 0  # a segment read from the raw table
# Stands for "no lower bound": earlier than any token (both engines hold year 1).
BEGINNING = datetime(1, 1, 1, tzinfo=UTC)
# PostgreSQL: one application-wide advisory lock for writes to `tokens`, so two imports never
# interleave their roll-up updates (no deadlock between their bucket rows) and an update by id
# reads the row it replaces.
_TOKEN_WRITES_KEY = 7_301_942_114

TokenFigures = tuple[datetime, float, float]  # (created_at, price, volume_24h)


@dataclass(frozen=True)
class Activity:
    """Tokens launched in a range, with the exact sums of their prices and volumes."""

    tokens: int = 0
    price_sum: Decimal = Decimal(0)
    volume_sum: Decimal = Decimal(0)

    @property
    def avg_price(self) -> Decimal | None:
        if not self.tokens:
            return None
        with localcontext() as ctx:
            ctx.prec = 40
            return self.price_sum / self.tokens

    def __add__(self, other: Activity) -> Activity:
        with localcontext(sql.EXACT):
            return Activity(self.tokens + other.tokens, self.price_sum + other.price_sum,
                            self.volume_sum + other.volume_sum)


@dataclass(frozen=True)
class DailyTokenActivity:
    day: date  # a UTC calendar day
    tokens: int
    price_sum: Decimal
    volume_sum: Decimal


# --- maintenance -------------------------------------------------------------------------------

def lock_token_writes(session: so.Session) -> None:
    """Serialise writers of `tokens` until this transaction ends (SQLite: its write lock does)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_TOKEN_WRITES_KEY)))


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


# Buckets are keyed in Python by whole minutes since the Unix epoch (UTC): an int is cheaper to
# hash, floor and compare than a datetime, and hours and days are whole multiples of it.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MINUTE = timedelta(minutes=1)


def epoch_minute(moment: datetime) -> int:
    """The minute an aware datetime falls in, as whole minutes since the epoch (exact)."""
    return (moment - EPOCH) // _ONE_MINUTE


def minute_start(minute: int) -> datetime:
    return EPOCH + timedelta(minutes=minute)


# A figure's exact decimal (the shortest text its double prints as, `repr`) is summed as an
# integer count of 1e-8 units k when that is provably the same number: |figure| < 1e7, so k has
# at most 15 digits, and k / 1e8 (one correctly rounded division of two exact doubles) gives
# back the very double. Two different decimals of at most 15 significant digits never round to
# the same double (DBL_DIG), and `repr` prints at most as many digits as k has, so it prints
# k x 1e-8. Integer sums are exact and several times cheaper than Decimal ones; a figure failing
# the test (more than 8 decimal places, or 1e7 and above) is summed as a Decimal beside them.
_SCALE, _BOUND, _PLACES = 1e8, 1e7, 8
UNIT_SCALE, UNIT_BOUND = _SCALE, _BOUND  # for callers that sum whole columns (csv_columns.py)
WIDTHS = sql.WIDTHS


def _from_units(units: int) -> Decimal:
    return sql.EXACT.scaleb(Decimal(units), -_PLACES)


EXACT_UNITS = _from_units  # the Decimal of a count of 1e-8 units, for csv_columns.py


class Changes:
    """Token rows entering and leaving the roll-up, added up per minute in Python and written
    in one go by `apply` (a few thousand bucket rows, however many tokens): a load of millions
    of tokens touches each bucket once, not once per batch."""

    def __init__(self) -> None:
        # epoch minute -> [tokens, price sum, volume sum], the sums in 1e-8 units (ints)
        self.minutes: dict[int, list[int]] = {}
        # epoch minute -> [price sum, volume sum] of the figures without a short form (Decimal)
        self.long: dict[int, list[Decimal]] = {}

    def add(self, rows: Iterable[TokenFigures]) -> None:
        self.count_minutes(((epoch_minute(c), p, v) for c, p, v in rows), 1)

    def remove(self, rows: Iterable[TokenFigures]) -> None:
        self.count_minutes(((epoch_minute(c), p, v) for c, p, v in rows), -1)

    def count_minutes(self, rows: Iterable[tuple[int, float, float]], sign: int) -> None:
        """Count (epoch minute, price, volume) rows in (sign 1) or out (sign -1)."""
        # The hot loop of every load (one to two microseconds a token): names bound locally.
        minutes, scale, bound, long = self.minutes, _SCALE, _BOUND, self._long
        get = minutes.get
        for key, price, volume in rows:
            entry = get(key)
            if entry is None:
                entry = minutes[key] = [0, 0, 0]
            entry[0] += sign
            if -bound < price < bound and (units := round(price * scale)) / scale == price:
                entry[1] += sign * units
            else:
                long(key, 0, price, sign)
            if -bound < volume < bound and (units := round(volume * scale)) / scale == volume:
                entry[2] += sign * units
            else:
                long(key, 1, volume, sign)

    def _long(self, key: int, column: int, figure: float, sign: int) -> None:
        sums = self.long.setdefault(key, [Decimal(0), Decimal(0)])
        value = Decimal(repr(figure))
        sums[column] = sql.EXACT.add(sums[column], value if sign > 0 else -value)

    def buckets(self) -> dict[int, dict[int, list[Any]]]:
        """The changes per bucket, {width: {epoch minute of its start: [tokens, price sum,
        volume sum]}}, the sums as exact Decimals; buckets left unchanged are left out."""
        layers, longer = _layered(self.minutes), _layered(
            {k: [0, *sums] for k, sums in self.long.items()})
        out: dict[int, dict[int, list[Any]]] = {}
        for width, layer in layers.items():
            extra = longer[width]
            out[width] = changed = {k: [n, _from_units(p), _from_units(v)]
                                    for k, (n, p, v) in layer.items() if n or p or v or k in extra}
            for key, (_, price, volume) in extra.items():
                entry = changed[key]  # a minute with a long figure has its entry: counted there
                entry[1], entry[2] = sql.EXACT.add(entry[1], price), sql.EXACT.add(entry[2], volume)
                if not (entry[0] or entry[1] or entry[2]):
                    del changed[key]
        return out

    def apply(self, session: so.Session) -> int:
        """Write the changes into the roll-up (the caller's transaction); start over."""
        touched = _write_deltas(session, self.buckets())
        self.minutes, self.long = {}, {}
        return touched


def _layered(minutes: dict[int, list[Any]]) -> dict[int, dict[int, list[Any]]]:
    """The minute sums with the hour and day sums they add up to: {width: {epoch minute of
    the bucket's start: [tokens, price sum, volume sum]}}, hours from minutes, days from hours.
    Sums are ints (units) or Decimals (added exactly); the minute layer is `minutes` itself."""
    layers = {MINUTE: minutes}
    with localcontext(sql.EXACT):
        for width, finer in ((HOUR, MINUTE), (DAY, HOUR)):
            layer: dict[int, list[Any]] = {}
            step = width // MINUTE
            for key, (tokens, price, volume) in layers[finer].items():
                start = key - key % step
                entry = layer.get(start)
                if entry is None:
                    layer[start] = [tokens, price, volume]
                else:
                    entry[0] += tokens
                    entry[1] += price
                    entry[2] += volume
            layers[width] = layer
    return layers


def apply_batch(session: so.Session, added: Iterable[TokenFigures] = (),
                removed: Iterable[TokenFigures] = ()) -> int:
    """Add the tokens `added` to the roll-up and take the tokens `removed` out of it (an
    update is both: the old row removed, the new one added). Part of the caller's transaction.
    Returns the number of bucket rows touched."""
    changes = Changes()
    changes.add(added)
    changes.remove(removed)
    return changes.apply(session)


_COLUMNS = ("tokens", "price_sum", "volume_sum")
# SQLite's statements, bound by position with values already in their stored form (the bucket
# as SQLAlchemy's time text, the sums as decimal text): a load writes a hundred thousand bucket
# rows, and SQLAlchemy's per-value type processing cost more than SQLite's own work.
_SQLITE_GROW = (f"INSERT INTO {sql.TABLE} (width, bucket_start, tokens, price_sum, volume_sum) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (width, bucket_start) DO UPDATE SET "
                "tokens = tokens + excluded.tokens, "
                "price_sum = decimal_add(price_sum, excluded.price_sum), "
                "volume_sum = decimal_add(volume_sum, excluded.volume_sum)")
_SQLITE_SHRINK = (f"UPDATE {sql.TABLE} SET tokens = tokens + ?, "
                  "price_sum = decimal_add(price_sum, ?), volume_sum = decimal_add(volume_sum, ?) "
                  "WHERE width = ? AND bucket_start = ?")
_SQLITE_EMPTIED = f"DELETE FROM {sql.TABLE} WHERE tokens = 0 AND width = ? AND bucket_start = ?"


def _write_deltas(session: so.Session, layers: dict[int, dict[int, list[Any]]]) -> int:
    # One lock order for every writer: by width, then by time.
    rows = [(width, key, *layer[key]) for width, layer in layers.items() for key in sorted(layer)]
    if not rows:
        return 0
    # Buckets gaining tokens may be new: an upsert. Buckets losing tokens (or keeping their
    # count while a price changes) hold the token already: an update. Kept apart because a
    # CHECK constraint judges an upsert's proposed row (a negative count) before the conflict.
    growing = [r for r in rows if r[2] > 0]
    shrinking = [r for r in rows if r[2] <= 0]
    # A bucket whose last token moved away goes, as a rebuild would not make it.
    emptied = [r for r in shrinking if r[2] < 0]
    if session.get_bind().dialect.name == "sqlite":
        connection = session.connection()

        def text(minute: int) -> str:
            return bulk.sqlite_time(minute_start(minute))

        if growing:
            connection.exec_driver_sql(_SQLITE_GROW, [
                (w, text(k), n, str(p), str(v)) for w, k, n, p, v in growing])
        if shrinking:
            connection.exec_driver_sql(_SQLITE_SHRINK, [
                (n, str(p), str(v), w, text(k)) for w, k, n, p, v in shrinking])
        if emptied:
            connection.exec_driver_sql(_SQLITE_EMPTIED, [(w, text(k)) for w, k, *_ in emptied])
        return len(rows)

    table = TokenActivityRollup.__table__
    where = (table.c.width == sa.bindparam("w"), table.c.bucket_start == sa.bindparam("b"))
    if growing:
        _pg_grow(session, [(w, minute_start(k), n, p, v) for w, k, n, p, v in growing])
    if shrinking:
        session.execute(sa.update(table).where(*where).values(
            {c: table.c[c] + sa.bindparam(f"d_{c}", type_=table.c[c].type) for c in _COLUMNS}),
            [{"w": w, "b": minute_start(k), "d_tokens": n, "d_price_sum": p, "d_volume_sum": v}
             for w, k, n, p, v in shrinking])
    if emptied:
        session.execute(sa.delete(table).where(table.c.tokens == 0, *where),
                        [{"w": w, "b": minute_start(k)} for w, k, *_ in emptied])
    return len(rows)


_PG_GROWTH = "token_rollup_growth"


def _pg_grow(session: so.Session, rows: list[tuple[int, datetime, int, Decimal, Decimal]] | None,
             body: bytes | memoryview | None = None) -> None:
    """Add to buckets on PostgreSQL: the deltas go by COPY into a temporary table (as rows, or
    as a ready COPY text `body`), then into the roll-up by one INSERT ... ON CONFLICT. A load of
    a million tokens touches a hundred thousand buckets, and one statement per bucket took
    longer than the load (issue 18)."""
    connection = session.connection()
    connection.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {_PG_GROWTH} (width integer, bucket_start timestamptz, "
        "tokens bigint, price_sum numeric, volume_sum numeric) ON COMMIT DROP")
    connection.exec_driver_sql(f"DELETE FROM {_PG_GROWTH}")  # an earlier apply's, if any
    columns = "width, bucket_start, tokens, price_sum, volume_sum"
    with connection.connection.driver_connection.cursor() as cursor, cursor.copy(
            f"COPY {_PG_GROWTH} ({columns}) FROM STDIN") as copy:
        if body is not None:
            copy.write(body)
        for row in rows or ():
            copy.write_row(row)
    added = ", ".join(f"{c} = {sql.TABLE}.{c} + excluded.{c}" for c in _COLUMNS)
    connection.exec_driver_sql(
        f"INSERT INTO {sql.TABLE} ({columns}) SELECT {columns} FROM {_PG_GROWTH} "
        f"ORDER BY width, bucket_start ON CONFLICT (width, bucket_start) DO UPDATE SET {added}")


def stored_bucket_minutes(session: so.Session, width: int, first: int, last: int) -> list[int]:
    """The `width` buckets already stored that start from epoch minute `first` to `last`
    (both included), as epoch minutes in time order. One range scan of the primary key."""
    return list(session.scalars(
        sa.text(f"SELECT CAST(floor(EXTRACT(EPOCH FROM bucket_start) / 60) AS bigint) FROM "
                f"{sql.TABLE} WHERE width = :w AND bucket_start >= :lo AND bucket_start <= :hi "
                "ORDER BY bucket_start"),
        {"w": width, "lo": minute_start(first), "hi": minute_start(last)}))


def grow_buckets(session: so.Session, sqlite_rows: list[tuple[int, str, int, str, str]] | None,
                 pg_body: bytes | memoryview | None,
                 pg_new_body: bytes | memoryview | None = None) -> None:
    """Add tokens to buckets given in their stored form, for writers that sum whole columns
    (csv_columns.py): on SQLite (width, bucket start as its time text, tokens, price sum,
    volume sum as decimal text); on PostgreSQL the same five columns as a COPY text body, the
    buckets not stored yet (stored_bucket_minutes, under lock_token_writes) apart in
    `pg_new_body`. Part of the caller's transaction; the caller keeps the lock order (width,
    then time)."""
    if session.get_bind().dialect.name == "sqlite":
        if sqlite_rows:
            session.connection().exec_driver_sql(_SQLITE_GROW, sqlite_rows)
        return
    if pg_body is not None and len(pg_body):
        _pg_grow(session, None, pg_body)
    if pg_new_body is not None and len(pg_new_body):
        # Straight into the roll-up: every writer of tokens holds lock_token_writes, so no
        # bucket found missing can appear before this commits, and the staging table with
        # INSERT ... ON CONFLICT cost more server time than the new rows themselves (a third
        # of an import of 200,000 tokens over four months, 120,000 new buckets).
        columns = "width, bucket_start, tokens, price_sum, volume_sum"
        driver = session.connection().connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(
                f"COPY {sql.TABLE} ({columns}) FROM STDIN") as copy:
            copy.write(pg_new_body)


def _prepare(session: so.Session) -> None:
    for statement in sql.prepare_statements(session.get_bind().dialect.name):
        session.execute(sa.text(statement))


def _bucket_count(session: so.Session) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(TokenActivityRollup)) or 0)


def fill_from_tokens(session: so.Session) -> None:
    """Replace the roll-up with sums of the raw table (part of the caller's transaction)."""
    for statement in sql.fill_statements(session.get_bind().dialect.name):
        session.execute(sa.text(statement))


def rebuild(db: Database) -> dict[str, int]:
    """Rebuild the roll-up from the raw table, in one transaction; token writes wait for it."""
    with writing(db) as session:
        lock_token_writes(session)
        fill_from_tokens(session)
        buckets = _bucket_count(session)
        record_activity(session, "token_rollup_rebuilt",
                        f"Token roll-up rebuilt from the raw table ({buckets} buckets)",
                        {"buckets": buckets})
    return {"buckets": buckets}


def _raw_buckets(session: so.Session) -> dict[tuple[int, datetime], tuple[int, Decimal, Decimal]]:
    dialect = session.get_bind().dialect.name
    query = sa.text(sql.raw_minutes_query(dialect)).columns(
        sa.column("bucket_start", TokenActivityRollup.bucket_start.type),
        sa.column("tokens", sa.BigInteger()), sa.column("price_sum", TokenActivityRollup.price_sum.type),
        sa.column("volume_sum", TokenActivityRollup.volume_sum.type))
    minutes = {epoch_minute(row.bucket_start): [int(row.tokens), row.price_sum, row.volume_sum]
               for row in session.execute(query)}
    return {(width, minute_start(start)): (v[0], v[1], v[2])
            for width, layer in _layered(minutes).items() for start, v in layer.items()}


def check(db: Database) -> dict[str, int]:
    """Compare every bucket with the raw table: `buckets` stored, `mismatches` differing (a
    bucket missing on either side counts as one)."""
    with reading(db) as session:
        if db.dialect == "postgresql":
            # One snapshot for both reads, so a write landing between them is not a mismatch.
            session.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        _prepare(session)
        expected = _raw_buckets(session)
        stored = {(r.width, r.bucket_start): (int(r.tokens), r.price_sum, r.volume_sum)
                  for r in session.execute(sa.select(*TokenActivityRollup.__table__.c))}
    mismatches = sum(1 for key in expected.keys() | stored.keys()
                     if expected.get(key) != stored.get(key))
    return {"buckets": len(stored), "mismatches": mismatches}


# --- reads ----------------------------------------------------------------------------------

# Segments are computed on integer microseconds since the epoch ("ticks"; the epoch starts a
# UTC day, so flooring ticks floors the time) and handed to the database as such: at 500
# periods, cutting them in datetime arithmetic and formatting them as text cost more than the
# database's part of the read.
_TICK = timedelta(microseconds=1)
_TICKS = 1_000_000  # per second
_MINUTE_TICKS = MINUTE * _TICKS
_HOUR_TICKS = HOUR * _TICKS

# (width, or RAW; lo; hi; sign): a range is the sum of its segments, each counted with its sign.
# Only an edge's part is ever subtracted: the part of a coarser bucket outside the range.
Segment = tuple[int, datetime, datetime, int]
_TickSegment = tuple[int, int, int, int]


def _nearest(ticks: int, unit: int) -> int:
    """The edge of `unit` nearest to `ticks`; on exactly half, the earlier one."""
    floor = ticks - ticks % unit
    return floor if ticks - floor <= unit // 2 else floor + unit


def _edge_part(width: int, edge: int, rounded: int, lower: bool) -> list[_TickSegment]:
    """The part between a range's edge and that edge rounded: added when it lies inside the
    range, subtracted when outside. The range on the other side of the edge gets the same
    segment with the other sign."""
    if edge == rounded:
        return []
    inside = (rounded > edge) == lower
    start, stop = min(edge, rounded), max(edge, rounded)
    return [(width, start, stop, 1 if inside else -1)]


def _ticks(moment: datetime) -> int:
    return (moment - EPOCH) // _TICK  # aware datetimes subtract in UTC


def _moment(ticks: int) -> datetime:
    return EPOCH + timedelta(microseconds=ticks)


def _cover(lo: int, hi: int, widths: tuple[int, ...]) -> list[_TickSegment]:
    """[lo, hi), both on minute edges, as the fewest whole buckets: the widest in the middle."""
    if lo >= hi:
        return []
    width, finer = widths[0], widths[1:]
    if not finer:
        return [(width, lo, hi, 1)]
    unit = width * _TICKS
    start, stop = -(-lo // unit) * unit, hi // unit * unit
    if start >= stop:
        return _cover(lo, hi, finer)
    return [*_cover(lo, start, finer), (width, start, stop, 1), *_cover(stop, hi, finer)]


def _tick_segments(lo: int, hi: int) -> list[_TickSegment]:
    """Each edge is rounded to the nearest minute, then that to the nearest hour: the raw part
    and the minutes between an edge and its roundings are at most half a minute and half an
    hour, read from whichever side of the edge is shorter, and shared with the range on the
    other side of the edge. Whole hours and days between the rounded edges are covered as
    few buckets. A range too short to hold a rounded minute (or hour) is read whole, raw (or
    as minutes)."""
    if lo >= hi:
        return []
    lo_minute, hi_minute = _nearest(lo, _MINUTE_TICKS), _nearest(hi, _MINUTE_TICKS)
    if lo // _MINUTE_TICKS == hi // _MINUTE_TICKS or lo_minute >= hi_minute:
        return [(RAW, lo, hi, 1)]
    head = _edge_part(RAW, lo, lo_minute, lower=True)
    tail = _edge_part(RAW, hi, hi_minute, lower=False)
    lo_hour, hi_hour = _nearest(lo_minute, _HOUR_TICKS), _nearest(hi_minute, _HOUR_TICKS)
    if lo_hour >= hi_hour:
        return head + [(MINUTE, lo_minute, hi_minute, 1)] + tail
    return (head + _edge_part(MINUTE, lo_minute, lo_hour, lower=True)
            + _cover(lo_hour, hi_hour, (DAY, HOUR))
            + _edge_part(MINUTE, hi_minute, hi_hour, lower=False) + tail)


def segments(lo: datetime | None, hi: datetime) -> list[Segment]:
    """[lo, hi) as signed roll-up buckets and raw parts (lo None: from the beginning); see
    _tick_segments."""
    lo_ticks = _ticks(BEGINNING if lo is None else lo)
    return [(width, _moment(start), _moment(stop), sign)
            for width, start, stop, sign in _tick_segments(lo_ticks, _ticks(hi))]


def _raw_sums(dialect: str) -> str:
    return (f"count(*) AS n, {sql.exact_sum_of_doubles(dialect, 't.price')} AS p, "
            f"{sql.exact_sum_of_doubles(dialect, 't.volume_24h')} AS v")


def _bucket_sums(dialect: str) -> str:
    return (f"sum(r.tokens) AS n, {sql.exact_sum_of_decimals(dialect, 'r.price_sum')} AS p, "
            f"{sql.exact_sum_of_decimals(dialect, 'r.volume_sum')} AS v")


def _segments_query(dialect: str) -> str:
    """One statement: the sums of each distinct segment, by its position. The segments come as
    two JSON arrays of [position, width, lo seconds, lo microseconds, hi seconds, hi
    microseconds] since the epoch (:raw, :buckets), one text parameter each: a psycopg array of
    2,000 timestamps took 10 ms to quote.

    Each segment must be one index range scan. SQLite: CROSS JOIN keeps the segments the outer
    loop. PostgreSQL: one aggregate per segment in a LATERAL subquery the planner cannot
    flatten (as a plain join it hashed the segments on `width` and filtered every bucket
    against every segment: 19 s at 500 periods)."""
    if dialect == "sqlite":
        def field(i: int) -> str:
            return f"json_extract(s.value, '$[{i}]')"

        def moment(i: int) -> str:  # the stored text, 'YYYY-MM-DD HH:MM:SS.ffffff'
            return f"(datetime({field(i)}, 'unixepoch') || printf('.%06d', {field(i + 1)}))"

        def source(name: str) -> str:
            return f"json_each(:{name}) AS s"
    else:
        def field(i: int) -> str:
            return f"CAST(s.value ->> {i} AS bigint)"

        def moment(i: int) -> str:
            return f"(to_timestamp({field(i)}) + {field(i + 1)} * INTERVAL '1 microsecond')"

        def source(name: str) -> str:
            return f"jsonb_array_elements(CAST(:{name} AS jsonb)) AS s"
    position, width, lo, hi = field(0), field(1), moment(2), moment(4)
    raw_where = f"t.created_at >= {lo} AND t.created_at < {hi}"
    bucket_where = f"r.width = {width} AND r.bucket_start >= {lo} AND r.bucket_start < {hi}"
    if dialect == "sqlite":
        return (f"SELECT {position} AS position, {_raw_sums(dialect)} FROM {source('raw')} "
                f"CROSS JOIN tokens t WHERE {raw_where} GROUP BY position UNION ALL "
                f"SELECT {position} AS position, {_bucket_sums(dialect)} FROM "
                f"{source('buckets')} CROSS JOIN {sql.TABLE} r WHERE {bucket_where} "
                "GROUP BY position")
    return (f"SELECT {position}, part.* FROM {source('raw')} CROSS JOIN LATERAL (SELECT "
            f"{_raw_sums(dialect)} FROM tokens t WHERE {raw_where}) AS part UNION ALL "
            f"SELECT {position}, part.* FROM {source('buckets')} CROSS JOIN LATERAL (SELECT "
            f"{_bucket_sums(dialect)} FROM {sql.TABLE} r WHERE {bucket_where}) AS part")


def _decimal(value: Any) -> Decimal:
    # PostgreSQL's NUMERIC arrives as a Decimal; SQLite's exact sums as decimal text.
    return value if type(value) is Decimal else Decimal(str(value))


def activity_in_ranges(session: so.Session,
                        ranges: Sequence[tuple[datetime | None, datetime]]) -> list[Activity]:
    """Exact activity of each half-open range [lo, hi) (lo None: from the beginning).

    A segment shared by several ranges is read once: periods that meet at an edge read the
    same raw part of its minute, one adding it and the other subtracting it."""
    dialect = session.get_bind().dialect.name
    positions: dict[tuple[int, int, int], int] = {}  # (width, lo, hi) -> position
    uses: list[tuple[int, int, int]] = []  # (range, position, sign)
    beginning = _ticks(BEGINNING)
    for group, (lo, hi) in enumerate(ranges):
        lo_ticks = beginning if lo is None else _ticks(lo)
        for width, start, stop, sign in _tick_segments(lo_ticks, _ticks(hi)):
            position = positions.setdefault((width, start, stop), len(positions))
            uses.append((group, position, sign))
    if not positions:
        return [Activity() for _ in ranges]
    # Seconds and microseconds apart, floored: SQL's integer division truncates toward zero.
    raw = [[p, w, *divmod(lo, _TICKS), *divmod(hi, _TICKS)]
           for (w, lo, hi), p in positions.items() if w == RAW]
    buckets = [[p, w, *divmod(lo, _TICKS), *divmod(hi, _TICKS)]
               for (w, lo, hi), p in positions.items() if w != RAW]
    _prepare(session)
    sums: list[tuple[int, Decimal, Decimal]] = [(0, Decimal(0), Decimal(0))] * len(positions)
    result = session.execute(sa.text(_segments_query(dialect)),
                             {"raw": json.dumps(raw), "buckets": json.dumps(buckets)})
    for position, tokens, price, volume in result.all():
        if tokens:  # a segment without tokens sums to NULL
            sums[int(position)] = (int(tokens), _decimal(price), _decimal(volume))
    counts, prices, volumes = [0] * len(ranges), [Decimal(0)] * len(ranges), [Decimal(0)] * len(ranges)
    with localcontext(sql.EXACT):
        for group, position, sign in uses:
            tokens, price, volume = sums[position]
            if not tokens:
                continue
            if sign > 0:
                counts[group] += tokens
                prices[group] += price
                volumes[group] += volume
            else:
                counts[group] -= tokens
                prices[group] -= price
                volumes[group] -= volume
    return [Activity(*figures) if figures[0] else Activity()
            for figures in zip(counts, prices, volumes)]


def daily_token_activity(session: so.Session, start: datetime, end: datetime
                         ) -> list[DailyTokenActivity]:
    """Tokens created in [start, end) per UTC day, oldest first; every day the range touches is
    listed, a day without launches as zeros. A partial first or last day counts only the part
    inside the range, exactly."""
    start, end = _utc(start), _utc(end)
    if start >= end:
        return []
    days, day = [], start.date()
    while datetime.combine(day, time(), tzinfo=UTC) < end:
        days.append(day)
        day += timedelta(days=1)
    ranges = [(max(start, datetime.combine(d, time(), tzinfo=UTC)),
               min(end, datetime.combine(d + timedelta(days=1), time(), tzinfo=UTC))) for d in days]
    return [DailyTokenActivity(d, a.tokens, a.price_sum, a.volume_sum)
            for d, a in zip(days, activity_in_ranges(session, ranges))]
