"""The four buckets, exact percentage parsing, and the split value object."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

BUCKETS: tuple[str, ...] = ("reinvestment", "dao", "lucky", "creator")
BUCKET_LABELS = {
    "reinvestment": "Reinvestment",
    "dao": "DAO treasury",
    "lucky": "Lucky lottery",
    "creator": "Creator rewards",
}
HUNDRED = Decimal(100)
PERCENT_PLACES = 2
MAX_MAGNITUDE = 24  # digits before the point; the ledger holds 18, percentages 3


def shown(value: Any, *, quote: bool = True, limit: int = 40) -> str:
    """An input as an error message repeats it: a 300-digit paste is cut, not echoed whole."""
    text = repr(value) if quote else str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def to_decimal(value: Any, field: str, *, places: int | None = None) -> Decimal:
    """Parse a number exactly, or raise ValueError naming the field.

    Floats are converted through their shortest repr (`0.1` -> `Decimal("0.1")`), so a float
    typed by a person keeps the digits they typed; NaN, infinities and text are refused.
    """
    if isinstance(value, bool):
        raise ValueError(f"{field}: {shown(value)} is not a number")
    if isinstance(value, float):
        value = repr(value)
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise ValueError(f"{field}: {shown(value)} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{field}: {shown(value, quote=False)} is not a finite number")
    # Counted from the digits, not with normalize(): that rounds to the context's 28 digits
    # (so "80.000...0001" passed as 80) and raises decimal.Overflow on "1e999999999".
    if places is not None and _decimal_places(number) > places:
        raise ValueError(f"{field}: {shown(value, quote=False)} has more than {places} decimal places")
    if number and number.adjusted() > MAX_MAGNITUDE:
        # Later arithmetic runs in the default context and would round or overflow.
        raise ValueError(f"{field}: {shown(value, quote=False)} is too large")
    return number


def _decimal_places(number: Decimal) -> int:
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite numbers only
    significant = "".join(map(str, digits)).rstrip("0")
    if not significant:
        return 0
    return max(0, -(exponent + len(digits) - len(significant)))


def format_pct(value: Decimal) -> str:
    """`70.00` -> `70`, `70.50` -> `70.5`: how people write percentages."""
    return format(value.normalize(), "f")


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
        return "/".join(format_pct(v) for _, v in self.items())


DEFAULT_SPLIT = Split(Decimal(80), Decimal(15), Decimal(3), Decimal(2))
