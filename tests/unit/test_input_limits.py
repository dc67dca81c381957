"""The README's input limits are the constants the code enforces, and the parsing rules hold."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from core.base.errors import ValidationFailed
from core.base.parsing import (TEXT_LIMITS, check_text, documented_limits, json_depth_problem,
                               parse_date, parse_instant, parse_whole, positive_amount, to_decimal)

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_lists_every_limit_exactly_as_the_code_enforces_it():
    text = README.read_text(encoding="utf-8")
    missing = [f"| {name} | {rule} |" for name, rule in documented_limits()
               if f"| {name} | {rule} |" not in text]
    assert missing == []
    assert all(f"`{field}`" in text for field in TEXT_LIMITS)


@pytest.mark.parametrize("typed, words", [
    ("٧٨", "not a number written with the digits 0-9"), ("７８", "digits 0-9"),
    ("1_000", "underscore"), ("+5", "has a '\\+' sign"), ("1,5", "is not a number"),
    ("5" * 101, "too long for a number"),
])
def test_numbers_must_be_written_with_ascii_digits_and_no_sign_or_separator(typed, words):
    with pytest.raises(ValueError, match=words):
        to_decimal(typed, "x")


@pytest.mark.parametrize("typed, value", [("70", Decimal(70)), ("70.5", Decimal("70.5")),
                                          (".5", Decimal("0.5")), ("1e3", Decimal(1000)),
                                          (" 7 ", Decimal(7)), ("-2", Decimal(-2))])
def test_ordinary_numbers_still_read(typed, value):
    assert to_decimal(typed, "x") == value


@pytest.mark.parametrize("typed", ["0", "-0", "-0.00", "0.0"])
def test_zero_and_minus_zero_are_not_a_positive_amount(typed):
    with pytest.raises(ValidationFailed, match="more than 0"):
        positive_amount(typed, "profit")


@pytest.mark.parametrize("typed, words", [("1e20", "not a whole number"), ("2.0", "not a whole number"),
                                          ("100000000000000000000", "outside 1..10"),
                                          ("0", "outside 1..10"), ("ten", "not a whole number")])
def test_whole_numbers_are_plain_digits_inside_their_range(typed, words):
    with pytest.raises(ValidationFailed, match=words):
        parse_whole(typed, "limit", minimum=1, maximum=10)


@pytest.mark.parametrize("value", ["a\x00b", "\udcff", "bell\x07", "x" * 4001])
def test_text_with_nul_a_lone_surrogate_a_control_or_beyond_its_limit_is_refused(value):
    with pytest.raises(ValidationFailed) as refused:
        check_text(value, "reasoning")
    assert refused.value.problems[0].startswith("reasoning: ")
    assert len(refused.value.problems[0]) < 120  # the text itself is never echoed


def test_text_keeps_tabs_line_breaks_and_any_script():
    assert check_text("Línea 1\n\tстрока 2 — 七", "reasoning") == "Línea 1\n\tстрока 2 — 七"


@pytest.mark.parametrize("typed, words", [("20261003", "not an ISO 8601 date"),
                                          ("2026-02-30", "not an ISO 8601 date"),
                                          ("9999-12-31", "after 2100-12-31"),
                                          ("1999-12-31", "before 2000-01-01")])
def test_dates_are_iso_8601_extended_and_inside_the_years_that_matter(typed, words):
    with pytest.raises(ValidationFailed, match=words):
        parse_date(typed, "to")


def test_a_recorded_fact_may_not_lie_beyond_a_day_ahead_of_its_moment():
    now = datetime(2026, 10, 3, 12, tzinfo=UTC)
    assert parse_date("2026-10-04", "day", facts=True, now=now) == date(2026, 10, 4)
    with pytest.raises(ValidationFailed, match="in the future"):
        parse_date("2026-10-05", "day", facts=True, now=now)
    with pytest.raises(ValidationFailed, match="in the future"):
        parse_instant("2099-01-01T00:00:00Z", "created_at", facts=True, now=now)
    assert parse_instant("2026-10-03T14:00:00+02:00", "at", now=now) == now


def test_json_depth_is_measured_without_parsing_and_ignores_brackets_in_strings():
    assert json_depth_problem("[" * 100_000) == "is nested more than 8 levels deep"
    assert json_depth_problem('{"a": "[[[[[[[[[[[[[[[["}') is None
    assert json_depth_problem('{"a": "\\"[[[[[[[[[[[[["}') is None
