"""Every CSV the product writes goes through `csv_text`: one place for formula neutralising and
for how values are written.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (tab and carriage
return can hide such a start), so a reasoning like `=HYPERLINK(...)` would be live in the file an
operator opens. OWASP's rule: such a text cell is written with a leading apostrophe, which
spreadsheets show as text. Numbers stay numbers: `-5`, `+1.5` and `1e3` are not touched.
Dicts and lists (input metrics) are written as JSON, not as Python's repr.
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

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise(text: str) -> str:
    """A text cell made safe to open in a spreadsheet (numbers written as text stay as they are)."""
    if text.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def cell(value: Any) -> str | int | float:
    """One value as the CSV shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return value if not isinstance(value, Decimal) else format(value, "f")
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
