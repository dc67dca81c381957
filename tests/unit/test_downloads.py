"""The one CSV writer of the pages: numbers as numbers, JSON as JSON, no formulas."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pandas as pd

from ui.downloads import csv_bytes


def rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


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
    frame = pd.DataFrame({"reasoning": ["=HYPERLINK(\"http://x\")", "+1", "@sum", "plain -1"]})
    assert [r["reasoning"] for r in rows(csv_bytes(frame))] == [
        "'=HYPERLINK(\"http://x\")", "'+1", "'@sum", "plain -1"]
