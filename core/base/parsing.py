"""How every entry point reads what people type: numbers, whole numbers, dates, text, JSON.

One place, so the CLI, the dashboard and the API refuse the same input with the same one-line
message naming the field. Every limit is a constant here; messages are built from them and the
README's "Input limits" table is checked against them by a test.

Rules (why each one):
* Numbers are written with the ASCII digits 0-9, an optional decimal point and exponent. Python's
  own parsers also take `٧٨`, `７８` and `1_000`; a person who typed those meant something we
  cannot be sure of, and a value read differently by another tool is not a value to move money by.
* No leading `+`: every number the product takes is a magnitude; a sign there is a typo or a
  paste from somewhere else. A `-` is kept through to the field's own range check ("is negative").
* Dates are ISO 8601 in the extended form (`2026-10-03`, `2026-10-03T12:00:00Z`); Python 3.11
  also reads the basic form `20261003`, which is one digit away from a number.
* Text may not hold NUL (PostgreSQL cannot store it), other control characters but tab and line
  breaks, or lone surrogates (not characters at all: neither database can store them).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from core.base.errors import ValidationFailed
from core.base.formatting import count

# --- limits: far beyond any real value, short of what breaks arithmetic or the columns --------

# Text fields, in characters.
TEXT_LIMITS: dict[str, int] = {
    "reasoning": 4000,  # a proposal's reasoning: a few paragraphs
    "notes": 2000,  # a review's notes
    "ai_reasoning": 2000,  # the AI advisor's own reasoning, kept as model output
    "display_name": 200,
    "username": 64,  # the width of every column that records who acted
    "email": 320,  # RFC 5321's longest address
    "password": 1024,
    "key": 200,  # a distribution's idempotency key
    "symbol": 32,  # a token's ticker
    "name": 200,  # a token's name
    "activity_type": 64,
    "policy_value": 100,
}
MAX_NUMBER_TEXT = 100  # characters in a number as typed: "1e999999999" fits, a pasted page not
MAX_MAGNITUDE = 24  # digits before the point; the ledger holds 18, percentages 3

# Platform data (market figures in USD, counts per day): the database's CHECK constraints hold
# the same bounds, so they live beside the models.
from db.limits import (MAX_DAILY_COUNT, MAX_TOKEN_PRICE_USD,  # noqa: E402,F401
                       MAX_TOKEN_VOLUME_USD, MAX_TREASURY_BALANCE_USD)

# How many rows a listing may ask for (history, activity).
MAX_LIST_LIMIT = 100_000

# Limits whose owners sit above this module (demo data, CSV import, amounts, accounts): they
# import them from here, so this module, which every package may use, imports none of them.
MIN_DEMO_DAYS, MAX_DEMO_DAYS, MAX_DEMO_TOKENS = 14, 3650, 10_000_000
MAX_CSV_LINE_CHARS = 4096
MAX_TOTAL = Decimal(10) ** 18  # a distribution's profit: the ledger's 18 digits before the point
MIN_PASSWORD_LENGTH = 10

# Dates: platform data cannot lie in the future (beyond a day of clock skew); a date asked about
# (compare --to, schedule --at) stays inside the years any of this can concern.
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)
CLOCK_SKEW = timedelta(days=1)

# JSON read from a file (rebalance --metrics).
MAX_JSON_DEPTH = 8
MAX_JSON_BYTES = 64 * 1024

_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_SPECIAL = {"nan", "-nan", "inf", "-inf", "infinity", "-infinity", "snan", "-snan"}
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_ISO_INSTANT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}"
                          r"(?:\.[0-9]{1,6})?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?)?", re.ASCII)
_ALLOWED_CONTROLS = {"\t", "\n", "\r"}


def shown(value: Any, *, quote: bool = True, limit: int = 40) -> str:
    """An input as an error message repeats it: a 300-digit paste is cut, not echoed whole, and
    anything unprintable is escaped (repr), so the message itself is always printable."""
    if isinstance(value, Decimal):  # a number as its digits (the API reads JSON numbers so)
        text = str(value)
    else:
        text = repr(value) if quote or not isinstance(value, str) or not value.isprintable() else value
    return text if len(text) <= limit else text[:limit] + "…"


# --- text --------------------------------------------------------------------------------------

def text_problem(value: str, limit: int) -> str | None:
    """Why `value` cannot be stored as text, or None."""
    for char in value:
        code = ord(char)
        if code == 0:
            return "contains a NUL character (U+0000), which text may not hold"
        if 0xD800 <= code <= 0xDFFF:
            return (f"contains a lone surrogate (U+{code:04X}), which is not a character "
                    "(the text is not valid Unicode)")
        if (code < 0x20 or code == 0x7F) and char not in _ALLOWED_CONTROLS:
            return f"contains the control character U+{code:04X}"
    if len(value) > limit:
        return f"is {len(value)} characters long; at most {limit} are allowed"
    return None


def check_text(value: Any, field: str, *, limit_of: str | None = None,
               required: bool = False) -> str:
    """`value` as text fit to store: no NUL, no lone surrogate, at most the field's limit.

    `limit_of` names the entry of TEXT_LIMITS (default: the field's own name). Returns the value
    unchanged (callers strip where their field's rule says so)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field}: must be text")
    problem = text_problem(value, TEXT_LIMITS[limit_of or field])
    if problem:
        raise ValidationFailed(f"{field}: {problem}")
    if required and not value.strip():
        raise ValidationFailed(f"{field}: must not be empty")
    return value


def optional_text(value: Any, field: str, *, limit_of: str | None = None) -> str | None:
    return None if value is None else check_text(value, field, limit_of=limit_of)


# --- numbers -----------------------------------------------------------------------------------

def _number_syntax_problem(text: str) -> str | None:
    if len(text) > MAX_NUMBER_TEXT:
        return f"is {len(text)} characters long, too long for a number"
    if _NUMBER.fullmatch(text) or text.lower() in _SPECIAL:
        return None
    if text.startswith("+"):
        return f"{shown(text)} has a '+' sign; write the number without one"
    if "_" in text and _NUMBER.fullmatch(text.replace("_", "")):
        return f"{shown(text)} has an underscore; write the digits without separators"
    if any(c.isdigit() or c.isnumeric() for c in text if not c.isascii()):
        return f"{shown(text)} is not a number written with the digits 0-9"
    return f"{shown(text)} is not a number"


def to_decimal(value: Any, field: str, *, places: int | None = None) -> Decimal:
    """Parse a number exactly, or raise ValueError naming the field.

    Text must be written with ASCII digits (see the module's rules). Floats are converted through
    their shortest repr (`0.1` -> `Decimal("0.1")`), so a float typed by a person keeps the
    digits they typed; NaN, infinities and anything else are refused.
    """
    if isinstance(value, bool):
        raise ValueError(f"{field}: {shown(value)} is not a number")
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    else:
        text = str(value).strip() if value is not None else ""
        problem = _number_syntax_problem(text)
        if problem:
            raise ValueError(f"{field}: {problem}")
        try:
            number = Decimal(text)
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


def positive_amount(value: Any, field: str) -> None:
    """Refuse `0` and `-0` where an amount must be above zero (a negative is the caller's)."""
    text = str(value).strip() if isinstance(value, str) else None
    if text is not None and text.startswith("-") and _NUMBER.fullmatch(text) \
            and Decimal(text) == 0:
        raise ValidationFailed(f"{field}: {shown(text)} is minus zero; it must be more than 0")
    try:
        if to_decimal(value, field) == 0:
            raise ValidationFailed(f"{field}: must be more than 0")
    except ValueError:
        pass  # the caller's parser reports what is wrong with it


def parse_whole(value: Any, field: str, *, minimum: int = 0, maximum: int) -> int:
    """A whole number from text (or an int) inside minimum..maximum, as ValidationFailed."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = Decimal(value)
    else:
        try:
            number = to_decimal(value, field)
        except ValueError as exc:
            message = str(exc)
            if message.endswith("is not a number"):
                message = f"{field}: {shown(value)} is not a whole number"
            raise ValidationFailed(message) from None
    if number != number.to_integral_value() or "." in str(value) or "e" in str(value).lower():
        # "1e3" and "2.0" are numbers, but not how anyone writes a count.
        raise ValidationFailed(f"{field}: {shown(value)} is not a whole number")
    if not minimum <= number <= maximum:
        raise ValidationFailed(f"{field}: {shown(value, quote=False)} is outside {minimum}..{maximum}")
    return int(number)


def parse_limit(value: Any, field: str = "limit") -> int | None:
    """How many rows a listing shows: None (no limit given) or 1..MAX_LIST_LIMIT."""
    if value is None:
        return None
    return parse_whole(value, field, minimum=1, maximum=MAX_LIST_LIMIT)


# --- dates and instants ------------------------------------------------------------------------

def _latest_fact_date(now: datetime | None) -> date:
    return ((now or datetime.now(UTC)) + CLOCK_SKEW).date()


def _iso_text(value: Any, field: str, pattern: re.Pattern[str], what: str,
              convert: Any) -> Any:
    """`convert(text)` of text matching `pattern`, or ValidationFailed naming `what` it is not."""
    text = str(value).strip() if value is not None else ""
    check_text(text, field, limit_of="policy_value")
    try:
        if not pattern.fullmatch(text):
            raise ValueError(text)
        return convert(text)
    except ValueError:
        raise ValidationFailed(f"{field}: {shown(text)} is not an ISO 8601 {what}") from None


def parse_date(value: Any, field: str, *, facts: bool = False,
               now: datetime | None = None) -> date:
    """An ISO 8601 calendar date (YYYY-MM-DD). `facts`: a day the platform recorded, so not after
    today (plus a day of clock skew); else a day asked about, inside EARLIEST..LATEST_DATE."""
    if isinstance(value, datetime):
        value = value.date()
    day = value if isinstance(value, date) else _iso_text(
        value, field, _ISO_DATE, "date (YYYY-MM-DD)", date.fromisoformat)
    _check_date_range(day, field, facts, now)
    return day


def parse_instant(value: Any, field: str, *, facts: bool = False,
                  now: datetime | None = None) -> datetime:
    """An ISO 8601 date and time (`2026-10-03T12:00:00Z`; without an offset it is UTC), as an
    aware UTC datetime, with the same range rules as `parse_date`."""
    moment = value if isinstance(value, datetime) else _iso_text(
        value, field, _ISO_INSTANT, "date-time",
        lambda text: datetime.fromisoformat(text.replace("Z", "+00:00")))
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    _check_date_range(moment.date(), field, facts, now)
    if facts and moment > (now or datetime.now(UTC)) + CLOCK_SKEW:
        raise ValidationFailed(f"{field}: {moment.isoformat()} is in the future")
    return moment


def _check_date_range(day: date, field: str, facts: bool, now: datetime | None) -> None:
    if day < EARLIEST_DATE:
        raise ValidationFailed(f"{field}: {day.isoformat()} is before {EARLIEST_DATE.isoformat()}")
    if facts and day > _latest_fact_date(now):
        raise ValidationFailed(f"{field}: {day.isoformat()} is in the future")
    if day > LATEST_DATE:
        raise ValidationFailed(f"{field}: {day.isoformat()} is after {LATEST_DATE.isoformat()}")


# --- JSON --------------------------------------------------------------------------------------

def json_depth_problem(text: str, limit: int = MAX_JSON_DEPTH) -> str | None:
    """Nesting deeper than `limit`, found without parsing (the parser recurses and a 100,000-deep
    document would exhaust Python's stack before it could say anything useful)."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return f"is nested more than {limit} levels deep"
        elif char in "]}":
            depth -= 1
    return None


def load_json(text: str, field: str, *, source: str | None = None,
              max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Strict JSON: bounded size and depth. (NaN and Infinity are read; the caller's checks
    refuse them as "not a finite number", naming the key.)"""
    if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise ValidationFailed(f"{field}: is larger than {max_bytes} bytes")
    problem = json_depth_problem(text, max_depth)
    if problem:
        raise ValidationFailed(f"{field}: {problem}")
    try:
        return json.loads(text)
    except ValueError as error:
        where = f"{source} is" if source else "it is"
        raise ValidationFailed(f"{field}: {where} not valid JSON ({error})") from None


# --- the README's "Input rules and limits" table, built from the constants above ----------------

def documented_limits() -> list[tuple[str, str]]:
    """(input, rule) rows: the README's table must hold exactly these (a test checks it)."""
    rows = [
        ("numbers", "digits 0-9, an optional `.` and exponent; no `+`, no `_`, no other digits"),
        ("profit (`amounts`, `distribute`)",
         f"more than 0 (`0` and `-0` refused), at most 2 decimals, under "
         f"10^{MAX_TOTAL.adjusted()}"),
        ("`--limit` (`history`, `activity`)", f"1..{MAX_LIST_LIMIT}"),
        ("`demo-data`", f"`--days` {MIN_DEMO_DAYS}..{MAX_DEMO_DAYS}, `--tokens` 0..{MAX_DEMO_TOKENS}"),
        ("dates", "ISO 8601 extended form (`2026-10-03`, `2026-10-03T12:00:00Z`), "
                  f"{EARLIEST_DATE}..{LATEST_DATE}"),
        ("dates in imported data", f"not after now + {CLOCK_SKEW.days} day (clock skew)"),
        ("text", "no NUL, no lone surrogate, no control character but tab and line breaks"),
        *((f"`{name}`", f"at most {limit} characters") for name, limit in TEXT_LIMITS.items()),
        ("password", f"at least {MIN_PASSWORD_LENGTH} characters, not only spaces"),
        ("token `price`", f"0..{count(MAX_TOKEN_PRICE_USD)} USD"),
        ("token `volume_24h`", f"0..{count(MAX_TOKEN_VOLUME_USD)} USD"),
        ("treasury `balance_usd`", f"0..{count(MAX_TREASURY_BALANCE_USD)} USD"),
        ("engagement counts", f"0..{count(MAX_DAILY_COUNT)} a day"),
        ("CSV files", f"UTF-8, LF or CRLF line ends, a BOM only at the start, at most "
                      f"{count(MAX_CSV_LINE_CHARS)} characters a row, the header once"),
        ("`rebalance --metrics` file", f"at most {count(MAX_JSON_BYTES)} bytes and "
                                       f"{MAX_JSON_DEPTH} levels deep; only the `metrics` keys "
                                       "(and `inputs`)"),
    ]
    return rows
