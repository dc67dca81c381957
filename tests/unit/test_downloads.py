"""The pages' CSV downloads, written by core's one CSV writer: numbers as numbers, JSON as JSON,
no formulas, a byte-order mark first."""

from __future__ import annotations

import codecs
import csv
import io
import json
from decimal import Decimal

import pandas as pd

from ui.downloads import csv_bytes


def rows(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(codecs.BOM_UTF8)
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_numbers_stay_numbers_and_money_keeps_every_digit():
    frame = pd.DataFrame({"change_pct": [12.5, None, -3.0],
                          "amount": [Decimal("1000000000000000.01"), Decimal("0.10"), Decimal("-5.00")]})
    written = rows(csv_bytes(frame))
    assert [r["change_pct"] for r in written] == ["12.5", "", "-3.0"]
    assert [r["amount"] for r in written] == ["1000000000000000.01", "0.10", "-5.00"]


def test_json_cells_are_written_as_json():
    frame = pd.DataFrame({"split": [{"reinvestment": 80, "dao": 15}], "ci95": [[1.5, 2.5]]})
    written = rows(csv_bytes(frame))[0]
    assert json.loads(written["split"]) == {"reinvestment": 80, "dao": 15}
    assert json.loads(written["ci95"]) == [1.5, 2.5]


def test_text_a_spreadsheet_would_run_as_a_formula_is_quoted():
    # "+1" is a number written as text: core's rule leaves it (a spreadsheet reads it as 1).
    frame = pd.DataFrame({"reasoning": ["=HYPERLINK(\"http://x\")", "+1+1", "@sum", "plain -1", "+1"]})
    assert [r["reasoning"] for r in rows(csv_bytes(frame))] == [
        "'=HYPERLINK(\"http://x\")", "'+1+1", "'@sum", "plain -1", "+1"]


def test_a_huge_float_and_missing_values_are_written_without_an_exponent_or_nan():
    frame = pd.DataFrame({"volume": [551234.5, 1e16, float("nan")], "note": ["ü €", None, "x"]})
    written = rows(csv_bytes(frame))
    assert [r["volume"] for r in written] == ["551234.5", "10000000000000000", ""]
    assert [r["note"] for r in written] == ["ü €", "", "x"]
