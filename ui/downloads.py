"""Every table on the pages downloads as CSV through this one function: numbers stay numbers,
JSON cells (dicts, lists) are written as JSON, and text that a spreadsheet would run as a formula
is quoted (a leading apostrophe)."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    if isinstance(value, Decimal):
        return format(value, "f")  # exact digits, never an exponent
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_bytes(frame: pd.DataFrame) -> bytes:
    shaped = frame.copy()
    for column in shaped.columns:
        if shaped[column].dtype == object or str(shaped[column].dtype) in ("str", "string"):
            shaped[column] = shaped[column].map(_cell)
    return shaped.to_csv(index=False).encode("utf-8")


def csv_download(frame: pd.DataFrame | Callable[[], pd.DataFrame], file_name: str, key: str,
                 label: str = "⬇️ Download CSV") -> None:
    """A download button for `frame` (or for the frame a function makes). The CSV is written
    when the button is clicked, not on every run of the page: at 500 periods, writing the
    outcomes' CSV took a fifth of the page's run."""
    def data() -> bytes:
        return csv_bytes(frame() if callable(frame) else frame)

    st.download_button(label, data, file_name=file_name, mime="text/csv", key=key,
                       on_click="ignore")
