"""Every table on the pages downloads as CSV through this one function: numbers stay numbers,
JSON cells (dicts, lists) are written as JSON, and text that a spreadsheet would run as a formula
is quoted (a leading apostrophe)."""

from __future__ import annotations

import json
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


def csv_download(frame: pd.DataFrame, file_name: str, key: str,
                 label: str = "⬇️ Download CSV") -> None:
    st.download_button(label, csv_bytes(frame), file_name=file_name, mime="text/csv", key=key,
                       on_click="ignore")
