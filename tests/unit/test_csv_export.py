"""csv_text: every CSV the product writes; formulas neutralised, numbers kept, JSON for data."""

from __future__ import annotations

import codecs
import csv
import io
from decimal import Decimal

import pytest

from core.base.csv_export import csv_bytes, csv_text, neutralise


def _read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("hostile", ['=HYPERLINK("http://evil.example","click")', "+1+cmd|' /C calc'!A0",
                                     "-2+3", "@SUM(A1:A2)", "\t=1+1", "\r=1+1"])
def test_a_text_cell_that_a_spreadsheet_would_run_starts_with_an_apostrophe(hostile):
    [_, [written]] = _read(csv_text([{"reasoning": hostile}], ["reasoning"]))
    assert written == "'" + hostile


@pytest.mark.parametrize("number", ["-5", "+1.5", "-0.25", "1e3", "-2E-3"])
def test_numbers_written_as_text_stay_numbers(number):
    assert neutralise(number) == number


def test_numbers_decimals_and_ordinary_text_are_written_unchanged():
    rows = [{"total": Decimal("-10.50"), "count": -3, "share": 0.25, "note": "fine = good"}]
    [_, written] = _read(csv_text(rows, ["total", "count", "share", "note"]))
    assert written == ["-10.50", "-3", "0.25", "fine = good"]


def test_dicts_are_written_as_json_not_as_python():
    [_, [written]] = _read(csv_text([{"input_metrics": {"manual": True, "x": None}}], ["input_metrics"]))
    assert written == '{"manual": true, "x": null}'


def test_a_downloaded_file_starts_with_a_utf8_byte_order_mark_so_spreadsheets_read_umlauts():
    data = csv_bytes([{"note": "Müller paid 5 €"}], ["note"])
    assert data.startswith(codecs.BOM_UTF8)
    assert data.count(codecs.BOM_UTF8) == 1  # only at the start
    [header, [written]] = _read(data.decode("utf-8-sig"))
    assert header == ["note"] and written == "Müller paid 5 €"


def test_missing_values_are_empty_cells_and_floats_have_no_exponent():
    rows = [{"a": None, "b": float("nan"), "c": 5.512e5, "d": 1e16, "e": Decimal("1E+3")}]
    [_, written] = _read(csv_text(rows, ["a", "b", "c", "d", "e"]))
    assert written == ["", "", "551200.0", "10000000000000000", "1000"]


def test_money_keeps_every_cent_of_a_huge_amount():
    [_, [written]] = _read(csv_text([{"total": Decimal("1000000000031991.20")}], ["total"]))
    assert written == "1000000000031991.20"
