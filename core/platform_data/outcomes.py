"""Did the split work? The outcome of every change of the split, with 95 % intervals.

For every activation (every `active` row of the log, oldest first) the daily figures of a window
of whole UTC days before it are set against the same number of days after it:

* the **before** window: the `window_days` whole days before the activation's day, never reaching
  into an earlier period than the previous one. The very first period is the exception that has
  no "before"; for the second activation the previous period reaches back before its own start,
  because its split (the hardcoded default this system replaced) was in force then too;
* the **after** window: the `window_days` whole days from the first midnight after the activation,
  ending where the period ends; the period still running uses the complete days it has so far
  (`days_after` < `window_days`, said as `open`).

The figures per day (`FIGURES`) are computed by the database (GROUP BY day); pandas only shapes
the few hundred result rows. A day with no row in `engagement_daily` is missing, not zero (absent
data is not a quiet day); token days are counted from the first day any token was launched; the
treasury is the last snapshot at or before each day's end.

**The interval: a two-sample percentile bootstrap** (`scipy.stats.bootstrap`, `paired=False`) of
the percent change of the mean, `(mean(after) / mean(before) - 1) * 100`. Why this and not an
interrupted-time-series regression (statsmodels):

* the samples are small (7 to 30 days a side) and skewed (volume per day is log-normal, one launch
  can dominate a day), so a method that assumes normal residuals is on weak ground, while the
  bootstrap takes the daily values as they are;
* the question is a ratio ("volume went up 40 %"); the bootstrap gives its interval directly, where
  a regression gives a level shift in dollars and needs the delta method to become a percentage;
* a segmented regression also fits a slope per side: with 7 days a side a trend is barely
  identified, and the level-shift estimate inherits that noise;
* speed: every (activation, figure) pair with the same day counts is resampled in one vectorised
  call, so hundreds of activations cost a fraction of a second. The percentile method, not BCa:
  BCa's jackknife costs six times as much, and at these sample sizes its correction is itself noisy.

What it does not do, and the pages say so: it treats days as independent, so a trend already
under way, weekly seasonality or a slowly moving stock (the treasury) make the interval too narrow;
and before/after is an association, never a proof that the split caused the change. With fewer
than `MIN_DAYS` days on either side there is no change and no interval ("not enough data").
The resampling uses a fixed seed per sample size, so the same days give the same interval on every
run and engine, whichever other changes are measured with them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
import sqlalchemy.orm as so
from scipy import stats

from core.allocation.records import split_of
from core.allocation.split import Split
from core.base.errors import NotFound, ValidationFailed
from core.base.sessions import reading
from core.platform_data.metrics_store import REFERENCE_LEVELS, WEIGHTS
from core.platform_data.queries import utc_day
from core.platform_data.rollup import daily_token_activity  # per-day sums from the roll-up, not 10M rows
from db.engine import Database
from db.models import AllocationLog, EngagementDaily, Token, TreasurySnapshot
from db.types import UTCDateTime, utcnow

WINDOW_DAYS_CHOICES = (7, 14, 30)
DEFAULT_WINDOW_DAYS = 14
MIN_DAYS = 5  # days with data on each side below which there is no change and no interval
CONFIDENCE = 0.95
N_RESAMPLES = 1000  # the usual floor for a 95 % percentile interval; cost grows linearly
SEED = 20240610  # fixed: the same data always give the same interval
NOT_ENOUGH_DATA = "not enough data"
# name -> label, in the order pages and tables show them.
FIGURES: dict[str, str] = {
    "tokens_per_day": "Tokens launched per day",
    "volume_per_day": "Trading volume per day ($)",
    "avg_price": "Average token price ($)",
    "engagement_score": "Engagement score",
    "wallet_connections": "Wallet connections per day",
    "dao_treasury": "DAO treasury ($)",
}
USD_FIGURES = frozenset({"volume_per_day", "avg_price", "dao_treasury"})  # the labels' "($)"


# --- the daily series ----------------------------------------------------------------------------

def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _as_date(value: Any) -> date:
    # SQLite's date() gives text; PostgreSQL a date.
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _first_token_day(session: so.Session) -> date | None:
    first = session.scalar(sa.select(sa.func.min(Token.created_at)))
    return first.date() if first is not None else None


def _engagement_score_sql() -> sa.ColumnElement[float]:
    """`core.platform_data.metrics_store`' engagement score, computed per day by the database."""
    parts = []
    for name, reference in REFERENCE_LEVELS.items():
        column = getattr(EngagementDaily, name)
        capped = sa.case((column >= reference, 1.0), else_=column * 1.0 / reference)
        parts.append(capped * (WEIGHTS[name] * 100))
    return sum(parts[1:], parts[0])


def _engagement(session: so.Session, start: date, end: date) -> list[Any]:
    query = (sa.select(EngagementDaily.day, EngagementDaily.wallet_connections,
                       _engagement_score_sql().label("score"))
             .where(EngagementDaily.day >= start, EngagementDaily.day < end))
    return list(session.execute(query))


def _treasury(session: so.Session, start: date, end: date) -> list[tuple[date, Decimal]]:
    """The last snapshot of each day in [start, end), and the last one before `start` (so the
    balance carries into the window), as (day, balance)."""
    snap = TreasurySnapshot
    hi = sa.literal(_midnight(end), UTCDateTime())
    lo = sa.literal(_midnight(start), UTCDateTime())
    day = utc_day(session, snap.at)
    last_per_day = (sa.select(sa.func.max(snap.at).label("at")).where(snap.at >= lo, snap.at < hi)
                    .group_by(day))
    carried = sa.select(sa.func.max(snap.at).label("at")).where(snap.at < lo)
    moments = sa.union_all(last_per_day, carried).subquery()
    query = (sa.select(snap.at, snap.balance_usd).join(moments, snap.at == moments.c.at)
             .order_by(snap.at))
    return [(r.at.date(), r.balance_usd) for r in session.execute(query)]


def _figures_frame(session: so.Session, start: date, end: date) -> pd.DataFrame:
    count = max((end - start).days, 0)
    days = [start + timedelta(days=i) for i in range(count)]
    columns = {name: np.full(count, np.nan) for name in FIGURES}

    def put(name: str, rows: list[tuple[date, float]]) -> None:
        # Positions, not labels: setting thousands of cells one by one through pandas is slow.
        if rows:
            at = np.fromiter(((d - start).days for d, _ in rows), dtype=np.int64, count=len(rows))
            columns[name][at] = np.fromiter((v for _, v in rows), dtype=float, count=len(rows))

    first_token = _first_token_day(session) if count else None
    if first_token is not None and first_token < end:
        counted = max((first_token - start).days, 0)  # from the first launch on, no launch is 0
        columns["tokens_per_day"][counted:] = 0.0
        columns["volume_per_day"][counted:] = 0.0
        launched = [r for r in daily_token_activity(
            session, _midnight(max(start, first_token)), _midnight(end)) if r.tokens]
        put("tokens_per_day", [(r.day, float(r.tokens)) for r in launched])
        put("volume_per_day", [(r.day, float(r.volume_sum)) for r in launched])
        put("avg_price", [(r.day, float(r.price_sum) / r.tokens) for r in launched])
    if count:
        engagement = [(_as_date(r.day), float(r.score), float(r.wallet_connections))
                      for r in _engagement(session, start, end)]
        put("engagement_score", [(d, score) for d, score, _ in engagement])
        put("wallet_connections", [(d, wallets) for d, _, wallets in engagement])
        balances = _treasury(session, start, end)
        if balances:
            put("dao_treasury", [(max(d, start), float(b)) for d, b in balances])
            columns["dao_treasury"] = pd.Series(columns["dao_treasury"]).ffill().to_numpy()
    return pd.DataFrame(columns, index=pd.Index(days, name="day", dtype=object))


def figures_between(session: so.Session, start: date, end: date) -> pd.DataFrame:
    """`daily_figures` over [start, end) inside the caller's session: for a write transaction
    that decides on the figures it reads (an experiment's guardrails, core/experiments)."""
    return _figures_frame(session, start, end)


def daily_figures(db: Database, start: date | None = None, end: date | None = None,
                  now: datetime | None = None) -> pd.DataFrame:
    """Every figure of `FIGURES` per UTC day over [start, end) (default: from the first
    activation, or the first data, to the last complete day before `now`). Index: the day; a
    missing value is NaN."""
    now = now or utcnow()
    end = min(end or now.date(), now.date())
    with reading(db) as session:
        if start is None:
            start = _first_day(session) or end
        return _figures_frame(session, start, end)


def _first_day(session: so.Session) -> date | None:
    candidates = [session.scalar(sa.select(sa.func.min(AllocationLog.effective_from))
                                 .where(AllocationLog.status == "active")),
                  session.scalar(sa.select(sa.func.min(Token.created_at))),
                  session.scalar(sa.select(sa.func.min(TreasurySnapshot.at)))]
    engagement = session.scalar(sa.select(sa.func.min(EngagementDaily.day)))
    days = [c.date() for c in candidates if c is not None]
    if engagement is not None:
        days.append(_as_date(engagement))
    return min(days) if days else None


# --- before and after ----------------------------------------------------------------------------

@dataclass(frozen=True)
class FigureChange:
    """One figure before and after a change: means of the daily values, the change of the mean
    in percent and its 95 % interval (None: not enough data, or no base to compare with)."""

    before: float | None
    after: float | None
    change_pct: float | None
    ci95: tuple[float, float] | None
    n_before: int
    n_after: int

    @property
    def enough_data(self) -> bool:
        return self.n_before >= MIN_DAYS and self.n_after >= MIN_DAYS

    @property
    def direction(self) -> int:
        """+1 (a rise) or -1 (a fall) when the whole 95 % interval lies on that side of zero;
        0 when it spans zero or there is none. Only what the interval supports is called a
        change: a +128 % whose interval runs from -4.6 % to +386.7 % is no clear change."""
        if self.change_pct is None or self.ci95 is None:
            return 0
        low, high = self.ci95
        return 1 if low > 0 else -1 if high < 0 else 0

    def as_json(self) -> dict[str, Any]:
        return {"before": _round(self.before), "after": _round(self.after),
                "change_pct": _round(self.change_pct, 2),
                "ci95": [_round(v, 2) for v in self.ci95] if self.ci95 else None,
                "days_with_data": [self.n_before, self.n_after]}


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class Outcome:
    """What followed one activation."""

    allocation_id: str
    split: Split
    previous_split: Split | None
    effective_from: datetime
    effective_until: datetime | None
    proposed_by: str
    proposer: str | None
    reviewed_by: str | None
    review_notes: str | None
    reasoning: str
    confidence: Decimal
    window_days: int
    before_days: tuple[date, date] | None  # first and last day, inclusive
    after_days: tuple[date, date] | None
    figures: dict[str, FigureChange] = field(default_factory=dict)

    @property
    def days_before(self) -> int:
        return _span(self.before_days)

    @property
    def days_after(self) -> int:
        return _span(self.after_days)

    @property
    def open(self) -> bool:
        """The period is still running and has not yet had a whole window of days after."""
        return self.effective_until is None and self.days_after < self.window_days

    @property
    def complete_on(self) -> date | None:
        """While the after window is still filling (`open`): the day it is complete, when its
        last day has ended and a page can say "check back on" it. None once complete, and for
        a period that ended before its window did (its window never completes)."""
        if not self.open:
            return None
        first = self.after_days[0] if self.after_days else _ceil_day(self.effective_from)
        return first + timedelta(days=self.window_days)

    def as_json(self) -> dict[str, Any]:
        return {
            "allocation_id": self.allocation_id, "split": self.split.as_json(),
            "split_label": self.split.label(),
            "previous_split": self.previous_split.as_json() if self.previous_split else None,
            "effective_from": self.effective_from.isoformat(),
            "effective_until": self.effective_until.isoformat() if self.effective_until else None,
            "window_days": self.window_days, "days_before": self.days_before,
            "days_after": self.days_after, "open": self.open,
            "before_window": _days_json(self.before_days), "after_window": _days_json(self.after_days),
            "proposed_by": self.proposed_by, "reviewed_by": self.reviewed_by,
            "metrics": {k: v.as_json() for k, v in self.figures.items()},
        }


def _span(days: tuple[date, date] | None) -> int:
    return 0 if days is None else (days[1] - days[0]).days + 1


def _days_json(days: tuple[date, date] | None) -> list[str] | None:
    return [d.isoformat() for d in days] if days else None


def _ceil_day(moment: datetime) -> date:
    """The first day that starts at or after `moment`."""
    day = moment.date()
    return day if moment.timetz().replace(tzinfo=None) == time() else day + timedelta(days=1)


def _range(first: date, last: date) -> tuple[date, date] | None:
    return (first, last) if first <= last else None


def _windows(periods: list[AllocationLog], index: int, window_days: int,
             today: date) -> tuple[tuple[date, date] | None, tuple[date, date] | None]:
    row = periods[index]
    start = row.effective_from
    after_first = _ceil_day(start)
    after_last = after_first + timedelta(days=window_days - 1)
    if row.effective_until is not None:
        after_last = min(after_last, row.effective_until.date() - timedelta(days=1))
    after_last = min(after_last, today - timedelta(days=1))  # today is not complete yet
    if index == 0:
        return None, _range(after_first, after_last)
    before_last = start.date() - timedelta(days=1)
    before_first = before_last - timedelta(days=window_days - 1)
    if index >= 2:  # the previous period is bounded by its own start
        before_first = max(before_first, _ceil_day(periods[index - 1].effective_from))
    return _range(before_first, before_last), _range(after_first, after_last)


def _active_rows(session: so.Session) -> list[AllocationLog]:
    return list(session.scalars(sa.select(AllocationLog).where(AllocationLog.status == "active")
                                .order_by(AllocationLog.effective_from)))


def _values(columns: dict[str, np.ndarray], first: date | None, figure: str,
            days: tuple[date, date] | None) -> np.ndarray:
    """The figure's non-missing daily values over `days` (inclusive), from the columns of a
    frame of consecutive days starting on `first` (`_figures_frame`)."""
    if days is None or first is None:
        return np.empty(0)
    lo, hi = max((days[0] - first).days, 0), max((days[1] - first).days + 1, 0)
    values = columns[figure][lo:hi]
    return values[~np.isnan(values)]


def _pct_change_of_means(before: np.ndarray, after: np.ndarray, axis: int = -1) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.mean(after, axis=axis) / np.mean(before, axis=axis) - 1) * 100


def _intervals(pairs: dict[Any, tuple[np.ndarray, np.ndarray]]) -> dict[Any, tuple[float, float] | None]:
    """The bootstrap interval of every (before, after) pair, resampled in batches of pairs with
    the same day counts (one vectorised scipy call per batch)."""
    batches: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for key, (before, after) in pairs.items():
        batches[(len(before), len(after))].append(key)
    found: dict[Any, tuple[float, float] | None] = {}
    for (n_before, n_after), keys in batches.items():
        # scipy draws one matrix of resample indices per sample and applies it to every row of
        # the batch; seeding by the sizes makes each pair's interval depend on its own data only
        # (the Review page measuring one change agrees with the Outcomes page measuring all).
        rng = np.random.default_rng([SEED, n_before, n_after])
        before = np.stack([pairs[k][0] for k in keys])
        after = np.stack([pairs[k][1] for k in keys])
        with np.errstate(divide="ignore", invalid="ignore"):
            result = stats.bootstrap((before, after), _pct_change_of_means, n_resamples=N_RESAMPLES,
                                     method="percentile", confidence_level=CONFIDENCE,
                                     vectorized=True, paired=False, axis=-1, rng=rng)
        lows = np.atleast_1d(result.confidence_interval.low)
        highs = np.atleast_1d(result.confidence_interval.high)
        for key, low, high in zip(keys, lows, highs):
            found[key] = (float(low), float(high)) if np.isfinite(low) and np.isfinite(high) else None
    return found


def compare_days(frame: pd.DataFrame, before_days: tuple[date, date] | None,
                 after_days: tuple[date, date] | None) -> dict[str, FigureChange]:
    """Every figure over two ranges of days of one frame (see `daily_figures`)."""
    return _compare_many(frame, {None: (before_days, after_days)})[None]


def _compare_many(frame: pd.DataFrame, ranges: dict[Any, tuple[Any, Any]]) -> dict[Any, dict[str, FigureChange]]:
    samples = {}
    columns = {f: frame[f].to_numpy(dtype=float) for f in FIGURES} if not frame.empty else {}
    first = frame.index[0] if not frame.empty else None
    for key, (before_days, after_days) in ranges.items():
        for figure in FIGURES:
            samples[(key, figure)] = (_values(columns, first, figure, before_days),
                                      _values(columns, first, figure, after_days))
    means = {k: (float(b.sum() / len(b)) if len(b) else None,
                 float(a.sum() / len(a)) if len(a) else None) for k, (b, a) in samples.items()}
    # A change needs MIN_DAYS a side and a base to divide by; only those get an interval.
    testable = {k: v for k, v in samples.items()
                if min(len(v[0]), len(v[1])) >= MIN_DAYS and means[k][0] != 0}
    intervals = _intervals(testable)
    out: dict[Any, dict[str, FigureChange]] = {key: {} for key in ranges}
    for (key, figure), (before, after) in samples.items():
        mean_before, mean_after = means[(key, figure)]
        change = ((mean_after / mean_before - 1) * 100 if (key, figure) in testable else None)
        out[key][figure] = FigureChange(mean_before, mean_after, change,
                                        intervals.get((key, figure)), len(before), len(after))
    return out


def check_window(window_days: Any) -> int:
    if window_days not in WINDOW_DAYS_CHOICES:
        choices = ", ".join(map(str, WINDOW_DAYS_CHOICES))
        raise ValidationFailed(f"window_days: {window_days} is not one of {choices}")
    return int(window_days)


def activation_outcomes(db: Database, window_days: int = DEFAULT_WINDOW_DAYS,
                        now: datetime | None = None) -> list[Outcome]:
    """One entry per activation, oldest first (the first has no "before" and no change)."""
    return outcomes_and_figures(db, window_days, now)[0]


def outcomes_and_figures(db: Database, window_days: int = DEFAULT_WINDOW_DAYS,
                         now: datetime | None = None) -> tuple[list[Outcome], pd.DataFrame]:
    """The outcomes and the daily figures they were measured on (from the first day of any data
    to the last complete day), read once: a chart of the figures needs no second pass."""
    window_days = check_window(window_days)
    now = now or utcnow()
    with reading(db) as session:
        rows = _active_rows(session)
        return _measure(session, rows, range(len(rows)), window_days, now.date(), whole=True)


def _measure(session: so.Session, rows: list[AllocationLog], chosen: Iterable[int],
             window_days: int, today: date, whole: bool = False) -> tuple[list[Outcome], pd.DataFrame]:
    """The outcomes of the `chosen` activations (indexes into `rows`, oldest first), and the
    daily figures over their windows (`whole`: from the first day of any data)."""
    chosen = list(chosen)
    windows = {i: _windows(rows, i, window_days, today) for i in chosen}
    starts = [w[0][0] for w in windows.values() if w[0]] + [w[1][0] for w in windows.values() if w[1]]
    if whole:
        starts.append(_first_day(session) or today)
    frame = _figures_frame(session, min([*starts, today]), today)
    changes = _compare_many(frame, windows)
    outcomes = [Outcome(str(rows[i].id), split_of(rows[i]), split_of(rows[i - 1]) if i else None,
                        rows[i].effective_from, rows[i].effective_until, rows[i].proposed_by,
                        rows[i].proposer_username, rows[i].reviewed_by, rows[i].review_notes,
                        rows[i].reasoning, rows[i].confidence, window_days, windows[i][0],
                        windows[i][1], changes[i]) for i in chosen]
    return outcomes, frame


def last_changes(db: Database, window_days: int = DEFAULT_WINDOW_DAYS,
                 now: datetime | None = None) -> tuple[Outcome | None, Outcome | None]:
    """(the newest change, the newest change with `MIN_DAYS` whole days after it), measuring
    only those two: what a governor wants to see before approving the next change."""
    window_days = check_window(window_days)
    today = (now or utcnow()).date()
    with reading(db) as session:
        rows = _active_rows(session)
        if len(rows) < 2:
            return None, None
        measurable = [i for i in range(1, len(rows))
                      if _span(_windows(rows, i, window_days, today)[1]) >= MIN_DAYS]
        chosen = sorted({len(rows) - 1, *measurable[-1:]})
        found = dict(zip(chosen, _measure(session, rows, chosen, window_days, today)[0]))
    return found[len(rows) - 1], found[measurable[-1]] if measurable else None


def compare_periods(db: Database, first_id: str, second_id: str,
                    now: datetime | None = None) -> dict[str, FigureChange]:
    """Two whole periods' daily figures, the second against the first, with intervals."""
    now = now or utcnow()
    with reading(db) as session:
        rows = {str(r.id): r for r in _active_rows(session)}
        missing = [i for i in (first_id, second_id) if i not in rows]
        if missing:
            raise NotFound(f"allocation_id: no period {missing[0]}")
        ranges = []
        for key in (first_id, second_id):
            row = rows[key]
            until = row.effective_until.date() if row.effective_until else now.date()
            ranges.append(_range(_ceil_day(row.effective_from), until - timedelta(days=1)))
        starts = [r[0] for r in ranges if r]
        if not starts:
            frame = pd.DataFrame()
        else:
            frame = _figures_frame(session, min(starts), max(r[1] for r in ranges if r)
                                   + timedelta(days=1))
    return compare_days(frame, ranges[0], ranges[1])


# --- the scorecard -------------------------------------------------------------------------------

PROPOSER_KINDS = {"system": "Rules engine", "ai": "AI", "manual": "Manual"}


def _count(status: str) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((AllocationLog.status == status, 1), else_=0)), 0)


def scorecard(db: Database, window_days: int = DEFAULT_WINDOW_DAYS, now: datetime | None = None,
              outcomes: Iterable[Outcome] | None = None) -> list[dict[str, Any]]:
    """Per proposer kind: proposals, approved, rejected, expired, pending, average confidence,
    and the average change of each figure over the changes of that kind that were approved.

    The seeded default (active but never proposed nor reviewed) is not a proposal and not counted.
    """
    log = AllocationLog
    seeded = sa.and_(log.status == "active", log.reviewed_by.is_(None))
    query = (sa.select(log.proposed_by, sa.func.count().label("proposals"),
                       sa.func.avg(log.confidence).label("confidence"),
                       *(_count(s).label(s) for s in ("active", "rejected", "expired", "proposed")))
             .where(sa.not_(seeded)).group_by(log.proposed_by))
    with reading(db) as session:
        counted = {r.proposed_by: r for r in session.execute(query)}
    if outcomes is None:
        outcomes = activation_outcomes(db, window_days, now)
    changes: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for outcome in outcomes:
        if outcome.reviewed_by is None:
            continue
        for figure, change in outcome.figures.items():
            if change.change_pct is not None:
                changes[outcome.proposed_by][figure].append(change.change_pct)
    rows = []
    for kind, label in PROPOSER_KINDS.items():
        row = counted.get(kind)
        averages = {f: (float(np.mean(changes[kind][f])) if changes[kind][f] else None)
                    for f in FIGURES}
        rows.append({
            "kind": kind, "label": label, "proposals": int(row.proposals) if row else 0,
            "approved": int(row.active) if row else 0, "rejected": int(row.rejected) if row else 0,
            "expired": int(row.expired) if row else 0, "pending": int(row.proposed) if row else 0,
            "avg_confidence": round(float(row.confidence), 4) if row and row.confidence is not None
            else None,
            "changes_measured": max((len(v) for v in changes[kind].values()), default=0),
            "avg_change_pct": {f: _round(v, 2) for f, v in averages.items()},
        })
    return rows


def outcome_rows(outcomes: Iterable[Outcome]) -> list[dict[str, Any]]:
    """One row per change and figure, numbers as numbers (for a CSV or a long table)."""
    rows = []
    for outcome in outcomes:
        for figure, change in outcome.figures.items():
            rows.append({
                "allocation_id": outcome.allocation_id, "split": outcome.split.label(),
                "previous_split": outcome.previous_split.label() if outcome.previous_split else None,
                "effective_from": outcome.effective_from.isoformat(),
                "window_days": outcome.window_days, "days_before": outcome.days_before,
                "days_after": outcome.days_after, "open": outcome.open,
                "complete_on": outcome.complete_on, "figure": figure,
                "before": change.before, "after": change.after, "change_pct": change.change_pct,
                "ci95_low": change.ci95[0] if change.ci95 else None,
                "ci95_high": change.ci95[1] if change.ci95 else None,
                "days_with_data_before": change.n_before, "days_with_data_after": change.n_after})
    return rows
