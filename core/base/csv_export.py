"""Every CSV the product writes goes through `csv_text`: one place for formula neutralising and
for how values are written.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (tab and carriage
return can hide such a start), so a reasoning like `=HYPERLINK(...)` would be live in the file an
operator opens. OWASP's rule: such a text cell is written with a leading apostrophe, which
spreadsheets show as text. Numbers stay numbers: `-5`, `+1.5` and `1e3` are not touched.
Dicts and lists (input metrics) are written as JSON, not as Python's repr. Numbers are written
with every digit and never an exponent (`core.base.formatting`); a missing value is an empty cell.

The file handed to a person (`csv_bytes`) is UTF-8 and starts with a byte-order mark: without
it, Excel opens a CSV in the machine's legacy code page and `ü` or `€` come out as `Ã¼`, `â‚¬`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from core.base.formatting import decimal_text, exact, is_missing

BOM = "\ufeff"

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise(text: str) -> str:
    """A text cell made safe to open in a spreadsheet (numbers written as text stay as they are)."""
    if text.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def cell(value: Any) -> str | int:
    """One value as the CSV shows it."""
    if is_missing(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return value
    if isinstance(value, (float, Decimal)):
        return decimal_text(exact(value))  # 551234.5, not 5.512345e+05
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (Mapping, list, tuple)):
        return neutralise(json.dumps(value, default=str, ensure_ascii=False, sort_keys=True))
    return neutralise(str(value))


def csv_text(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """The rows as CSV text, with a header of `columns`, every cell through `cell`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180; quotes any CR or LF in a cell
    writer.writerow([neutralise(c) for c in columns])
    for row in rows:
        writer.writerow([cell(row.get(c)) for c in columns])
    return out.getvalue()


def csv_bytes(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> bytes:
    """The file a download hands over: `csv_text` as UTF-8 with a byte-order mark."""
    return (BOM + csv_text(rows, columns)).encode("utf-8")
