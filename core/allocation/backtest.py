"""What a proposed split would have paid: the ledger's recent distributions replayed under it.

Each recorded distribution is split again with the same rule that recorded it
(`core.allocation.money.calculate_amounts`: floor to the minor unit, the units left over to the largest
remainders), in `Decimal`, one distribution at a time: the rule is not linear, so splitting the
period's total once would not give what the distributions would have paid. Every replayed
distribution sums to its recorded total, so the proposed column sums to the actual one to the
cent, and the differences sum to zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from core.allocation.money import Amounts, calculate_amounts
from core.allocation.split import BUCKETS, HUNDRED, Split
from core.base.errors import ValidationFailed
from core.base.sessions import reading
from db.engine import Database
from db.models import ProfitDistribution
from db.types import UTCDateTime, utcnow
from settings import get_settings

DEFAULT_DAYS = 90
MAX_DAYS = 3650
ZERO = Decimal(0)


@dataclass(frozen=True)
class Backtest:
    split: Split
    days: int
    since: datetime
    until: datetime
    distributions: int
    total: Decimal
    actual: dict[str, Decimal]
    proposed: dict[str, Decimal]

    @property
    def difference(self) -> dict[str, Decimal]:
        return {b: self.proposed[b] - self.actual[b] for b in BUCKETS}

    def as_json(self) -> dict[str, Any]:
        def money(values: dict[str, Decimal]) -> dict[str, str]:
            return {b: str(values[b]) for b in BUCKETS}

        return {"days": self.days, "split": self.split.as_json(), "since": self.since.isoformat(),
                "until": self.until.isoformat(), "distributions": self.distributions,
                "total": str(self.total), "actual": money(self.actual),
                "proposed": money(self.proposed), "difference": money(self.difference)}

    def rows(self) -> list[dict[str, Any]]:
        """One row per bucket, and the total, for a table."""
        out = [{"bucket": b, "actual": self.actual[b], "proposed": self.proposed[b],
                "difference": self.difference[b]} for b in BUCKETS]
        out.append({"bucket": "total", "actual": sum(self.actual.values(), ZERO),
                    "proposed": sum(self.proposed.values(), ZERO),
                    "difference": sum(self.difference.values(), ZERO)})
        return out


def check_split(split: Split) -> Split:
    problems = [f"{b}: {v} is outside 0..100" for b, v in split.items() if not 0 <= v <= HUNDRED]
    if split.total != HUNDRED:
        problems.append(f"total: the four sum to {split.total}, not exactly 100")
    if problems:
        raise ValidationFailed(*problems)
    return split


def parse_split(reinvestment: Any, dao: Any, lucky: Any, creator: Any) -> Split:
    try:
        split = Split.of(reinvestment, dao, lucky, creator)
    except ValueError as error:
        raise ValidationFailed(str(error)) from None
    return check_split(split)


def check_days(days: Any) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(f"days: {days} is outside 1..{MAX_DAYS}")
    return days


def replay(recorded: Iterable[tuple[Decimal, Amounts]], split: Split,
           minor_unit: Decimal = Decimal("0.01")) -> tuple[int, Decimal, dict[str, Decimal], dict[str, Decimal]]:
    """(count, total, actual per bucket, proposed per bucket) of recorded (total, amounts)."""
    actual = dict.fromkeys(BUCKETS, ZERO)
    proposed = dict.fromkeys(BUCKETS, ZERO)
    count, total = 0, ZERO
    for amount, paid in recorded:
        again = calculate_amounts(amount, split, minor_unit)
        for bucket in BUCKETS:
            actual[bucket] += getattr(paid, bucket)
            proposed[bucket] += getattr(again, bucket)
        count, total = count + 1, total + amount
    return count, total, actual, proposed


def backtest(db: Database, split: Split, days: int = DEFAULT_DAYS,
             now: datetime | None = None) -> Backtest:
    """The distributions recorded in the `days` days before `now`, replayed under `split`."""
    check_split(split)
    check_days(days)
    until = now or utcnow()
    since = until - timedelta(days=days)
    dist = ProfitDistribution
    query = (sa.select(dist.total, *(getattr(dist, f"{b}_amount") for b in BUCKETS))
             .where(dist.created_at > sa.literal(since, UTCDateTime()),
                    dist.created_at <= sa.literal(until, UTCDateTime()))
             .order_by(dist.created_at))
    with reading(db) as session:
        rows = session.execute(query).all()
    recorded = ((r[0], Amounts(*r[1:])) for r in rows)
    count, total, actual, proposed = replay(recorded, split, get_settings().minor_unit)
    return Backtest(split, days, since, until, count, total, actual, proposed)


def projection(profit: Any, current: Split, proposed: Split) -> list[dict[str, Any]]:
    """What one profit of `profit` pays under the live and under the proposed split."""
    minor_unit = get_settings().minor_unit
    live = calculate_amounts(profit, current, minor_unit)
    again = calculate_amounts(profit, check_split(proposed), minor_unit)
    out = [{"bucket": b, "live": getattr(live, b), "proposed": getattr(again, b),
            "difference": getattr(again, b) - getattr(live, b)} for b in BUCKETS]
    out.append({"bucket": "total", "live": live.total, "proposed": again.total,
                "difference": again.total - live.total})
    return out
