"""The one Database per URL for the whole server process."""

from __future__ import annotations

import streamlit as st

from core.base.errors import DatabaseFailure
from core.database import connect
from db.engine import Database
from settings import get_settings
from ui.feedback import stop_on_database_failure


@st.cache_resource(show_spinner="Opening the database…")
def _open(url: str) -> Database:
    # cache_resource keeps one engine (and its pool) per URL for the process; a failed
    # connect raises and is not cached, so the next page load tries again. The default split is
    # seeded by `ui.demo.ensure_demo_data`, after the demo had its chance to write its history.
    return connect(url, seed=False)


def get_db() -> Database:
    try:
        return _open(get_settings().database_url)
    except DatabaseFailure as failure:
        stop_on_database_failure(failure)
