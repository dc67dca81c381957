"""Every table on the pages downloads as CSV through this one function, written by core's one
CSV writer (`core.base.csv_export`): numbers stay numbers with every digit, JSON cells (dicts,
lists) are written as JSON, text that a spreadsheet would run as a formula is quoted (a leading
apostrophe), and the file starts with a UTF-8 byte-order mark so spreadsheets read `ü` and `€`."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from core.base import csv_export


def csv_bytes(frame: pd.DataFrame) -> bytes:
    # to_dict boxes numpy scalars into Python ones, which is what core's writer knows.
    named = frame.rename(columns=str)
    return csv_export.csv_bytes(named.to_dict("records"), list(named.columns))


def csv_download(frame: pd.DataFrame | Callable[[], pd.DataFrame], file_name: str, key: str,
                 label: str = "⬇️ Download CSV") -> None:
    """A download button for `frame` (or for the frame a function makes). The CSV is written
    when the button is clicked, not on every run of the page: at 500 periods, writing the
    outcomes' CSV took a fifth of the page's run."""
    def data() -> bytes:
        return csv_bytes(frame() if callable(frame) else frame)

    st.download_button(label, data, file_name=file_name, mime="text/csv", key=key,
                       on_click="ignore")
