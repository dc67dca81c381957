"""Read-side queries for the dashboard and the CLI: plain dicts straight from SQL aggregates.

Nothing here writes. Token and engagement tables can be large: every figure is aggregated by the
database (GROUP BY, SUM, COUNT), and Python only shapes the few result rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, localcontext
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.allocation.records import split_of
from core.allocation.split import BUCKETS, Split
from core.base.errors import ValidationFailed
from core.base.parsing import parse_date
from core.base.sessions import reading
from core.platform_data.rollup import Activity, activity_in_ranges
from db.engine import Database
from db.models import AllocationLog, EngagementDaily, ProfitDistribution
from db.types import ExactDecimal, UTCDateTime, utcnow

AMOUNT_COLUMNS = {b: f"{b}_amount" for b in BUCKETS}


# --- helpers shared with the reports -----------------------------------------------------------

class _ExactSum:
    """SQLite aggregate summing decimal text exactly (its own SUM would go through doubles)."""

    def __init__(self) -> None:
        self.total: Decimal | None = None

    def step(self, value: Any) -> None:
        if value is not None:
            with localcontext() as ctx:
                ctx.prec = 60
                self.total = (self.total or Decimal(0)) + Decimal(str(value))

    def finalize(self) -> str | None:
        return None if self.total is None else str(self.total)


def money_sum(session: so.Session, column: Any) -> sa.ColumnElement[Decimal]:
    """SUM of a money column, exact on both engines (PostgreSQL's NUMERIC sum already is)."""
    if session.get_bind().dialect.name == "sqlite":
        driver = session.connection().connection.driver_connection
        driver.create_aggregate("exact_sum", 1, _ExactSum)
        return sa.type_coerce(sa.func.exact_sum(column), ExactDecimal())
    return sa.type_coerce(sa.func.sum(column), ExactDecimal())


def utc_day(session: so.Session, column: Any) -> sa.ColumnElement[date]:
    """The UTC calendar day of a timestamp column (PostgreSQL would use the session's zone)."""
    if session.get_bind().dialect.name == "sqlite":
        return sa.type_coerce(sa.func.date(column), sa.Date())
    return sa.cast(sa.func.timezone("UTC", column), sa.Date)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _at(value: Any) -> sa.ColumnElement[datetime]:
    return sa.literal(value, UTCDateTime())


def _start_of(value: date | datetime | None, *, next_day: bool = False) -> datetime | None:
    """A filter bound: a date means its 00:00 UTC (the next day's for an inclusive end)."""
    if value is None or isinstance(value, datetime):
        return value
    day = value + timedelta(days=1) if next_day else value
    return datetime.combine(day, time(), tzinfo=UTC)


# --- allocation periods against token performance ----------------------------------------------

def _periods(start: datetime | None, stop: datetime | None, now: datetime) -> sa.Subquery:
    """Active rows as half-open periods [lo, hi), clipped to the [start, stop) window."""
    log = AllocationLog
    end = sa.func.coalesce(log.effective_until, _at(now))
    lo = log.effective_from if start is None else sa.case(
        (log.effective_from > _at(start), log.effective_from), else_=_at(start))
    hi = end if stop is None else sa.case((end < _at(stop), end), else_=_at(stop))
    query = sa.select(log.id, *(getattr(log, f"{b}_pct") for b in BUCKETS), log.effective_from,
                      log.effective_until, sa.type_coerce(lo, UTCDateTime()).label("lo"),
                      sa.type_coerce(hi, UTCDateTime()).label("hi"))
    query = query.where(log.status == "active", hi >= lo)
    if start is not None:
        query = query.where(end > _at(start))
    if stop is not None:
        query = query.where(log.effective_from < _at(stop))
    return query.subquery("periods")


@lru_cache(maxsize=1024)
def _split_columns(pcts: tuple[Decimal, ...]) -> dict[str, Any]:
    """The split's label and numbers: 500 periods hold a handful of distinct splits."""
    split = Split(*pcts)
    return {"split": split.label(), **split.as_json()}


def _compare_rows(rows: list[Any], activity: list[Activity]) -> list[dict[str, Any]]:
    # One period's end is the next one's start: each instant is written out once.
    iso: dict[datetime | None, str | None] = {None: None}

    def text(moment: datetime | None) -> str | None:
        if moment not in iso:
            iso[moment] = moment.isoformat()  # type: ignore[union-attr]
        return iso[moment]

    out = []
    for (period_id, *pcts, effective_from, effective_until, lo, hi), figures in zip(rows, activity):
        days = (hi - lo).total_seconds() / 86400
        tokens, volume = figures.tokens, float(figures.volume_sum)
        average = figures.avg_price
        out.append({
            "allocation_id": str(period_id), **_split_columns(tuple(pcts)),
            "effective_from": text(effective_from), "effective_until": text(effective_until),
            "window_from": text(lo), "window_until": text(hi), "days": round(days, 4),
            "tokens_launched": tokens,
            "avg_price": float(average) if average is not None else None,
            "total_volume": volume,
            "tokens_per_day": round(tokens / days, 4) if days > 0 else None,
            "volume_per_day": volume / days if days > 0 else None,
        })
    return out


def compare_performance(db: Database, date_from: date | datetime | None = None,
                        date_to: date | datetime | None = None,
                        now: datetime | None = None) -> list[dict[str, Any]]:
    """The seed's Compare Performance, per allocation period and per day, oldest first.

    Periods are half-open, [effective_from, effective_until), the open one ending `now`: a token
    created exactly on an edge counts once, in the later period. `date_from`/`date_to` (dates
    inclusive, UTC) keep the periods overlapping that window and count only the part inside it:
    `window_from`/`window_until` and `days` describe that part, `effective_*` the whole period.
    `split` is the "80/15/3/2" label; the four buckets are also given as numbers.

    The token figures come from the roll-up (core/platform_data/rollup.py): whole buckets inside each period,
    its partial first and last minute from the raw table, so they equal a scan of the raw
    table to the token; prices and volumes are summed exactly, then shown as doubles.
    """
    start, stop = _start_of(date_from), _start_of(date_to, next_day=True)
    periods = _periods(start, stop, now or utcnow())
    with reading(db) as session:
        rows = session.execute(sa.select(periods).order_by(periods.c.effective_from)).all()
        activity = activity_in_ranges(session, [(r.lo, r.hi) for r in rows])
    return _compare_rows(rows, activity)


def allocation_periods(db: Database, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every period a split was in force, oldest first, for a step chart."""
    now = now or utcnow()
    query = (sa.select(AllocationLog).where(AllocationLog.status == "active")
             .order_by(AllocationLog.effective_from))
    with reading(db) as session:
        rows = session.scalars(query).all()
    out = []
    for row in rows:
        split = split_of(row)
        out.append({"allocation_id": str(row.id), "split": split.label(), **split.as_json(),
                    "effective_from": row.effective_from, "effective_until": row.effective_until,
                    "end": row.effective_until or max(now, row.effective_from),
                    "is_current": row.effective_until is None, "proposed_by": row.proposed_by,
                    "reviewed_by": row.reviewed_by, "reasoning": row.reasoning})
    return out


# --- proposals, distributions, engagement -----------------------------------------------------

def _count_status(status: str) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((AllocationLog.status == status, 1), else_=0)), 0)


def suggestion_quality(db: Database, days: int = 30, now: datetime | None = None) -> dict[str, Any]:
    """The seed's AI suggestion quality: AI proposals filed in the last `days` days."""
    now = now or utcnow()
    query = sa.select(
        sa.func.count().label("proposals"), sa.func.avg(AllocationLog.confidence).label("avg"),
        *(_count_status(s).label(s) for s in ("active", "rejected", "proposed", "expired")),
    ).where(AllocationLog.proposed_by == "ai",
            AllocationLog.timestamp > _at(now - timedelta(days=days)),
            AllocationLog.timestamp <= _at(now))
    with reading(db) as session:
        row = session.execute(query).one()
    return {"days": days, "proposals": int(row.proposals),
            "avg_confidence": round(float(row.avg), 4) if row.avg is not None else None,
            "approved": int(row.active), "rejected": int(row.rejected),
            "pending": int(row.proposed), "expired": int(row.expired)}


def distribution_totals_over_time(db: Database) -> list[dict[str, Any]]:
    """Per UTC day with distributions: that day's amounts per bucket and the running totals,
    as exact Decimals (summed by the database; only the running total is added up here)."""
    dist = ProfitDistribution
    with reading(db) as session:
        day = utc_day(session, dist.created_at).label("day")
        sums = [money_sum(session, getattr(dist, c)).label(b) for b, c in AMOUNT_COLUMNS.items()]
        query = (sa.select(day, sa.func.count().label("distributions"),
                           money_sum(session, dist.total).label("total"), *sums)
                 .group_by(day).order_by(day))
        rows = session.execute(query).all()
    running = {k: Decimal(0) for k in (*BUCKETS, "total")}
    out = []
    for row in rows:
        entry: dict[str, Any] = {"day": row.day, "distributions": int(row.distributions)}
        for key in running:
            running[key] += getattr(row, key)
            entry[key] = getattr(row, key)
            entry[f"cumulative_{key}"] = running[key]
        out.append(entry)
    return out


def weekly_metric_series(db: Database, days: int = 28, now: datetime | None = None) -> list[dict[str, Any]]:
    """Daily engagement for the `days` complete UTC days before `now`, oldest first.

    A day without a row is given as zeros (`has_data` False), as the metrics count it.
    """
    end = (now or utcnow()).date() - timedelta(days=1)
    start = end - timedelta(days=days - 1)
    query = (sa.select(EngagementDaily).where(EngagementDaily.day.between(start, end))
             .order_by(EngagementDaily.day))
    with reading(db) as session:
        found = {r.day: r for r in session.scalars(query)}
    series = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        row = found.get(day)
        series.append({"day": day, "has_data": row is not None,
                       "wallet_connections": row.wallet_connections if row else 0,
                       "trades_count": row.trades_count if row else 0,
                       "page_views": row.page_views if row else 0})
    return series


def parse_window(date_from: str | None, date_to: str | None) -> tuple[date | None, date | None]:
    """The `--from`/`--to` (or `from`/`to`) window of `compare`, checked."""
    start = None if date_from is None else parse_date(date_from, "from")
    stop = None if date_to is None else parse_date(date_to, "to")
    if start and stop and start > stop:
        raise ValidationFailed(f"to: {stop} is before from: {start}")
    return start, stop
