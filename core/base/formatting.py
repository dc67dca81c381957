"""How numbers read wherever a person reads them: money, prices, percentages, percentage points,
counts, measured figures and missing values. Pure functions, no Streamlit: the pages use them
through `ui.format`, the CSV writer (`core.base.csv_export`) for its exact digits.

Rules, written once here:

* **money** is `Decimal` and is never rounded: every digit the amount carries, grouped in
  thousands, no exponent (`1,000,000,000,031,991.20`). A float is refused: it has already lost
  the cents of a large amount. The profit's currency is not named anywhere in the product (only
  its minor unit, `CURRENCY_PLACES`), so money has no symbol; figures the platform records in
  US dollars (token prices, trading volume, the DAO treasury) are written with `$`;
* **measured figures** (means of daily values, floats by nature) are rounded for reading, never
  written with an exponent (`551,234`, not `5.512e+05`);
* a **missing** value (None, NaN) reads `—`; "not enough data" is the outcomes' own word;
* signs are ASCII (`+12.0%`, `-4.6%`) so a page, a CSV and a test search agree.
"""

from __future__ import annotations

import math
import numbers
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Any

MISSING = "—"
SIGNIFICANT = 4  # digits a measured figure or a price keeps after its leading zeros
PERCENT_PLACES = 1  # a measured change in percent: +12.3%
_WIDE = Context(prec=400)  # quantizing 1e18 to cents needs more than the default 28 digits


def is_missing(value: Any) -> bool:
    """None, a float or Decimal NaN, pandas' NA or NaT."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, Decimal):
        return value.is_nan()
    return type(value).__name__ in ("NAType", "NaTType")


def exact(value: Decimal | int | float) -> Decimal:
    """A number as a Decimal. A float becomes the shortest decimal that reads back as the same
    float (`0.1` -> `0.1`, not `0.1000000000000000055…`)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("a bool is not a number")
    if isinstance(value, numbers.Integral):  # numpy's integers too
        return Decimal(int(value))
    return Decimal(repr(float(value)))


def decimal_text(value: Decimal) -> str:
    """Every digit, never an exponent (`Decimal("1E+3")` -> `1000`): how a CSV writes a Decimal."""
    return format(value, "f")


def _rounded(value: Decimal, places: int) -> Decimal:
    with localcontext(_WIDE):
        return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _grouped(value: Decimal, prefix: str = "", signed: bool = False) -> str:
    """`-` (or `+` when `signed`) first, then `prefix`, then the digits grouped in thousands.
    A zero has no sign: a rounded `-0.00` reads `0.00`."""
    sign = "-" if value < 0 else ("+" if signed and value > 0 else "")
    return f"{sign}{prefix}{abs(value):,f}"


def _places_for(value: Decimal, significant: int, least: int) -> int:
    """Decimal places that keep `significant` digits of a small value, never fewer than `least`."""
    if value == 0:
        return least
    magnitude = value.copy_abs().adjusted()  # the exponent of the leading digit
    return max(least, significant - 1 - magnitude)


def money(value: Decimal | int | None, places: int | None = None, symbol: str = "") -> str:
    """An exact amount: `1,234.50`, `-0.01`, `1,000,000,000,000,000.00`. `places` pads to at least
    that many decimals (never rounds); `symbol` goes after the sign (`-$5.00`)."""
    if is_missing(value):
        return MISSING
    if isinstance(value, float):
        raise TypeError("money is a Decimal, never a float: a float has lost its cents already")
    amount = exact(value)
    if places is not None and amount.as_tuple().exponent > -places:  # type: ignore[operator]
        amount = _rounded(amount, places)  # only adds zeros: the amount has fewer places
    return _grouped(amount, symbol)


def usd(value: Decimal | float | int | None, places: int = 2, signed: bool = False) -> str:
    """A US-dollar figure rounded to `places`: `$1,234.57`, `-$3.00`."""
    if is_missing(value):
        return MISSING
    return _grouped(_rounded(exact(value), places), "$", signed)


def price(value: Decimal | float | int | None, signed: bool = False) -> str:
    """A token price: cents, or `SIGNIFICANT` digits of a price under a dollar
    (`$0.00001234`, `$0.5000`, `$12.35`, `$1,234.50`)."""
    if is_missing(value):
        return MISSING
    amount = exact(value)
    return _grouped(_rounded(amount, _places_for(amount, SIGNIFICANT, 2)), "$", signed)


def number(value: Decimal | float | int | None, places: int = 0, signed: bool = False) -> str:
    """A figure rounded to `places`, grouped in thousands: `1,234.57`."""
    if is_missing(value):
        return MISSING
    return _grouped(_rounded(exact(value), places), signed=signed)


def count(value: int | float | Decimal | None, signed: bool = False) -> str:
    """A whole number of things: `5,000`, `+12`."""
    return number(value, 0, signed)


def measured(value: Decimal | float | int | None, signed: bool = False) -> str:
    """A measured figure (a mean of daily values): `SIGNIFICANT` digits, all digits of its whole
    part, no exponent, no trailing zeros: `551,234`, `12.35`, `0.0001234`, `3`."""
    if is_missing(value):
        return MISSING
    amount = exact(value)
    text = _grouped(_rounded(amount, _places_for(amount, SIGNIFICANT, 0)), signed=signed)
    return text.rstrip("0").rstrip(".") if "." in text else text


def percent(value: Decimal | float | int | None, places: int = PERCENT_PLACES,
            signed: bool = False) -> str:
    """A value already in percent: `12.3%`, `+128.0%`, `-4.6%`."""
    if is_missing(value):
        return MISSING
    return number(value, places, signed) + "%"


def share(value: Decimal | float | int | None, places: int = 0) -> str:
    """A fraction of one as a percentage: `0.85` -> `85%`."""
    if is_missing(value):
        return MISSING
    return percent(exact(value) * 100, places)


def percent_digits(value: Decimal | float | int | None) -> str:
    """A split's percentage without its `%`, every digit it has: `70`, `70.5`; for a label
    (`80/15/3/2`) or a sentence that names its unit itself (`moves 5 points`)."""
    if is_missing(value):
        return MISSING
    return decimal_text(exact(value).normalize())


def exact_percent(value: Decimal | float | int | None) -> str:
    """A split's percentage, every digit it has: `70%`, `70.5%`."""
    if is_missing(value):
        return MISSING
    return f"{percent_digits(value)}%"


def points(value: Decimal | None) -> str:
    """A change of a percentage, exactly, in points: `+5 pts`, `-2.5 pts`, `±0 pts`."""
    if is_missing(value):
        return MISSING
    change = exact(value)  # type: ignore[arg-type]
    if change == 0:
        return "±0 pts"
    return f"{'+' if change > 0 else '-'}{decimal_text(abs(change).normalize())} pts"
