"""Platform metrics from the database, all as SQL aggregates.

Definitions (the README repeats them):

* Windows are whole UTC days. "The last 7 days" are the 7 complete days before `now`'s date
  (today is still in progress and would always look short); "the previous 7" are the 7 before
  those. A day without an `engagement_daily` row counts as zero activity.
* Community growth counts **wallet connections**: the seed's "community" is people showing up,
  and a wallet connecting is the closest thing to a person that the data holds (trades and page
  views grow with activity per person too). growth_rate_pct = (last 7 - previous 7) / previous 7
  * 100. With a zero base: both zero -> 0.0 (nothing changed); previous zero and last above zero
  -> 100.0 (a start from nothing is reported as +100 %, not infinity, so the value stays a
  finite number a rule can compare).
* Engagement score, 0..100: each of the last-7-day daily averages is scaled against a reference
  level (what a busy day on this platform looks like) and capped at 100, then weighted:
  50 % wallet connections (people), 30 % trades (doing something), 20 % page views (looking).
  The seed's raw sum `wallet_connections + trades_count + page_views` has no scale, so its
  thresholds (high > 70, low < 30) would mean nothing; this keeps the thresholds meaningful.
* dao_balance_usd: the latest treasury snapshot at or before `now` (0 with none).
* avg_token_price_usd: the average price of all tokens (0 with none).
* tokens_launched_7d: tokens created in the rolling 7 x 24 h before `now`.
* days_of_data: engagement days on record up to today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.base.sessions import reading
from core.platform_data.metrics_model import PlatformMetrics
from core.platform_data.rollup import activity_in_ranges
from db.engine import Database
from db.models import EngagementDaily, TreasurySnapshot
from db.types import utcnow

WINDOW_DAYS = 7
# Daily averages that score 100 on their own component; above them the component is capped.
REFERENCE_LEVELS = {"wallet_connections": 1000, "trades_count": 2000, "page_views": 20000}
WEIGHTS = {"wallet_connections": 0.5, "trades_count": 0.3, "page_views": 0.2}
COMPONENTS = tuple(REFERENCE_LEVELS)


@dataclass(frozen=True)
class EngagementInputs:
    """What the engagement score and the growth rate are computed from, to show beside them."""

    window_start: date  # first day of the last 7 (inclusive)
    window_end: date  # last day of the last 7 (inclusive), the day before `now`
    days_with_data: int  # of the last 7; the others count as zero
    totals_7d: dict[str, int]  # per component, over the last 7 days
    previous_wallet_connections_7d: int

    @property
    def averages(self) -> dict[str, float]:
        return {k: v / WINDOW_DAYS for k, v in self.totals_7d.items()}

    @property
    def component_scores(self) -> dict[str, float]:
        return {k: min(avg / REFERENCE_LEVELS[k], 1.0) * 100 for k, avg in self.averages.items()}

    @property
    def engagement_score(self) -> float:
        score = sum(WEIGHTS[k] * s for k, s in self.component_scores.items())
        return round(min(max(score, 0.0), 100.0), 1)

    @property
    def growth_rate_pct(self) -> float:
        return growth_rate(self.totals_7d["wallet_connections"], self.previous_wallet_connections_7d)

    def as_json(self) -> dict[str, Any]:
        return {
            "window_start": self.window_start.isoformat(), "window_end": self.window_end.isoformat(),
            "window_days": WINDOW_DAYS, "days_with_data": self.days_with_data,
            "totals_7d": self.totals_7d,
            "daily_averages": {k: round(v, 2) for k, v in self.averages.items()},
            "reference_levels": REFERENCE_LEVELS, "weights": WEIGHTS,
            "component_scores": {k: round(v, 1) for k, v in self.component_scores.items()},
            "engagement_score": self.engagement_score,
            "growth": {"measure": "wallet_connections",
                       "last_7d": self.totals_7d["wallet_connections"],
                       "previous_7d": self.previous_wallet_connections_7d,
                       "growth_rate_pct": self.growth_rate_pct},
        }


def growth_rate(last: int, previous: int) -> float:
    """Percent change of `last` against `previous`, with the zero base made explicit."""
    if previous == 0:
        return 0.0 if last == 0 else 100.0
    return round((last - previous) / previous * 100, 2)


def _windows(now: datetime) -> tuple[date, date, date]:
    """(previous window start, last window start, last window end), all inclusive days."""
    last_end = now.date() - timedelta(days=1)
    last_start = last_end - timedelta(days=WINDOW_DAYS - 1)
    return last_start - timedelta(days=WINDOW_DAYS), last_start, last_end


def _sum_between(column: sa.ColumnElement[int], start: date, end: date) -> sa.ColumnElement[int]:
    inside = EngagementDaily.day.between(start, end)
    return sa.func.coalesce(sa.func.sum(sa.case((inside, column), else_=0)), 0)


def _engagement(session: so.Session, now: datetime) -> tuple[EngagementInputs, int]:
    previous_start, last_start, last_end = _windows(now)
    columns = {name: getattr(EngagementDaily, name) for name in COMPONENTS}
    query = sa.select(
        *(_sum_between(c, last_start, last_end).label(n) for n, c in columns.items()),
        _sum_between(EngagementDaily.wallet_connections, previous_start,
                     last_start - timedelta(days=1)).label("previous"),
        _sum_between(sa.literal(1), last_start, last_end).label("days_with_data"),
        sa.func.count().label("days_of_data"),
    ).where(EngagementDaily.day <= now.date())
    row = session.execute(query).one()
    inputs = EngagementInputs(last_start, last_end, int(row.days_with_data),
                              {n: int(getattr(row, n)) for n in COMPONENTS}, int(row.previous))
    return inputs, int(row.days_of_data)


def engagement_inputs(db: Database, now: datetime | None = None) -> EngagementInputs:
    with reading(db) as session:
        return _engagement(session, now or utcnow())[0]


def _latest_balance(session: so.Session, now: datetime) -> Decimal:
    balance = session.scalar(sa.select(TreasurySnapshot.balance_usd)
                             .where(TreasurySnapshot.at <= now)
                             .order_by(TreasurySnapshot.at.desc()).limit(1))
    return balance if balance is not None else Decimal(0)


def _token_figures(session: so.Session, now: datetime) -> tuple[float, int]:
    # From the roll-up (core/platform_data/rollup.py): a few buckets and the raw partial minute before `now`,
    # never a scan of every token. Tokens that existed at `now`: last week's figure must not
    # include this week's launches.
    existing, recent = activity_in_ranges(session, [(None, now),
                                                    (now - timedelta(days=WINDOW_DAYS), now)])
    average = existing.avg_price
    return float(average) if average is not None else 0.0, recent.tokens


def compute_metrics(db: Database, now: datetime | None = None) -> PlatformMetrics:
    """The rebalancer's inputs at `now` (default: this moment)."""
    now = now or utcnow()
    with reading(db) as session:
        inputs, days_of_data = _engagement(session, now)
        avg_price, launched = _token_figures(session, now)
        return PlatformMetrics(
            growth_rate_pct=inputs.growth_rate_pct, engagement_score=inputs.engagement_score,
            dao_balance_usd=_latest_balance(session, now), avg_token_price_usd=avg_price,
            tokens_launched_7d=launched, days_of_data=days_of_data)


def metrics_as_json(values: PlatformMetrics, inputs: EngagementInputs) -> dict[str, Any]:
    """The `metrics --json` document (the CLI and the API print the same one)."""
    return {**values.as_json(), "inputs": inputs.as_json()}


def metrics_document(db: Database, now: datetime | None = None) -> dict[str, Any]:
    """The metrics and their engagement window, read at one moment (so both describe it)."""
    now = now or utcnow()
    return metrics_as_json(compute_metrics(db, now), engagement_inputs(db, now))
