"""Exact amounts: a total split into the four buckets by largest remainder."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, localcontext
from typing import Any

from core.allocation.split import BUCKETS, HUNDRED, Split
from core.base.errors import ValidationFailed
from core.base.parsing import MAX_TOTAL
from core.base.parsing import to_decimal

# Thousands separators as the app itself writes amounts (`1,000.50`): a comma before every group
# of exactly three digits, a point for the decimals. Anything else with a comma (`1,00`,
# `1.000,50`, `1,0000`) could mean two different amounts, so it is refused.
_GROUPED = re.compile(r"[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?")


@dataclass(frozen=True)
class Amounts:
    reinvestment: Decimal
    dao: Decimal
    lucky: Decimal
    creator: Decimal

    @property
    def total(self) -> Decimal:
        return self.reinvestment + self.dao + self.lucky + self.creator

    def as_json(self) -> dict[str, str]:
        return {k: str(getattr(self, k)) for k in BUCKETS}


def parse_total(value: Any, minor_unit: Decimal = Decimal("0.01"), field: str = "profit") -> Decimal:
    """A profit total: finite, not negative, no finer than the currency's minor unit."""
    places = -minor_unit.as_tuple().exponent
    if isinstance(value, str) and "," in value:
        if not _GROUPED.fullmatch(value.strip()):
            raise ValidationFailed(f"{field}: {value.strip()[:40]!r} is ambiguous; write 1,000.50 "
                                   "(a comma before every three digits, a point for decimals) "
                                   "or 1000.50")
        value = value.strip().replace(",", "")
    try:
        total = to_decimal(value, field, places=places)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None
    if total < 0:
        raise ValidationFailed(f"{field}: {value} is negative")
    if total >= MAX_TOTAL:
        raise ValidationFailed(f"{field}: {value} is too large (the ledger holds up to 18 digits)")
    # copy_abs: "-0" passes the check above but must not become "-0.00" in every amount.
    return total.copy_abs().quantize(minor_unit)


def calculate_amounts(total: Any, split: Split, minor_unit: Decimal = Decimal("0.01")) -> Amounts:
    """Split `total` by the percentages, rounded down to the minor unit, then hand the units
    left over to the largest remainders (ties go to the earlier bucket), so the parts sum to
    the total exactly and none is negative."""
    total = parse_total(total, minor_unit)
    if split.total != HUNDRED:
        raise ValidationFailed(f"split: the four sum to {split.total}, not exactly 100")
    with localcontext() as ctx:
        ctx.prec = 60  # far more digits than any total the ledger holds: no silent rounding
        exact = {k: total * v / HUNDRED for k, v in split.items()}
    floored = {k: x.quantize(minor_unit, rounding=ROUND_FLOOR) for k, x in exact.items()}
    units_left = int((total - sum(floored.values())) / minor_unit)
    by_remainder = sorted(BUCKETS, key=lambda k: (-(exact[k] - floored[k]), BUCKETS.index(k)))
    for bucket in by_remainder[:units_left]:
        floored[bucket] += minor_unit
    return Amounts(**floored)
