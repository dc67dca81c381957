"""The four buckets, exact percentage parsing, and the split value object."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from core.base.formatting import percent_digits
from core.base.parsing import to_decimal

BUCKETS: tuple[str, ...] = ("reinvestment", "dao", "lucky", "creator")
BUCKET_LABELS = {
    "reinvestment": "Reinvestment",
    "dao": "DAO treasury",
    "lucky": "Lucky lottery",
    "creator": "Creator rewards",
}
HUNDRED = Decimal(100)
PERCENT_PLACES = 2


# `70.00` -> `70`, `70.50` -> `70.5`: how people write percentages. One rule with the pages'
# `exact_percent`, so a split reads the same in a message, a label and a table.
format_pct = percent_digits


def pct_json(value: Decimal) -> int | float:
    """Percentages in JSON are numbers; whole values stay integers."""
    normal = value.normalize()
    return int(normal) if normal == normal.to_integral_value() else float(normal)


@dataclass(frozen=True)
class Split:
    reinvestment: Decimal
    dao: Decimal
    lucky: Decimal
    creator: Decimal

    @classmethod
    def of(cls, reinvestment: Any, dao: Any, lucky: Any, creator: Any) -> "Split":
        """Build from anything numeric; raises ValueError for text, NaN, infinity, >2 places."""
        values = dict(zip(BUCKETS, (reinvestment, dao, lucky, creator)))
        return cls(**{k: to_decimal(v, k, places=PERCENT_PLACES) for k, v in values.items()})

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> "Split":
        missing = [k for k in BUCKETS if k not in data]
        if missing:
            raise ValueError(f"{', '.join(missing)}: missing")
        return cls.of(*(data[k] for k in BUCKETS))

    def items(self) -> list[tuple[str, Decimal]]:
        return [(k, getattr(self, k)) for k in BUCKETS]

    @property
    def total(self) -> Decimal:
        return sum((v for _, v in self.items()), Decimal(0))

    def delta(self, other: "Split") -> dict[str, Decimal]:
        """How far each bucket moves going from `other` to this split."""
        return {k: getattr(self, k) - getattr(other, k) for k in BUCKETS}

    def as_json(self) -> dict[str, int | float]:
        return {k: pct_json(v) for k, v in self.items()}

    def label(self) -> str:
        return _label(self)


@lru_cache(maxsize=4096)
def _label(split: Split) -> str:
    # A page labels the same few splits thousands of times a run (500 periods: their table,
    # chart and CSV). Equal splits label alike: 80 and 80.00 are both "80".
    return "/".join(format_pct(v) for _, v in split.items())


DEFAULT_SPLIT = Split(Decimal(80), Decimal(15), Decimal(3), Decimal(2))
