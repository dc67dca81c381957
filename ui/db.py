"""The one Database per URL for the whole server process, and what happens when it is not there."""

from __future__ import annotations

from typing import NoReturn

import sqlalchemy as sa
import streamlit as st

from settings import get_settings
from core.setup import connect
from db.engine import Database


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is itself the message
        return "(malformed DATABASE_URL)"


def database_unreachable(error: BaseException, url: str | None = None) -> NoReturn:
    """Say plainly that the database is not there (no traceback), then stop the page."""
    reason = getattr(error, "orig", None) or error
    first_line = (str(reason).strip().splitlines() or ["unreachable"])[0]
    where = safe_url(url or get_settings().database_url)
    st.error(f"🔌 The database cannot be reached ({where}): {first_line}. "
             "Check that it is running and that DATABASE_URL is right, then reload the page.")
    st.stop()


@st.cache_resource(show_spinner="Opening the database…")
def _open(url: str) -> Database:
    # cache_resource keeps one engine (and its pool) per URL for the process; a failed
    # connect raises and is not cached, so the next page load tries again.
    return connect(url)


def get_db() -> Database:
    url = get_settings().database_url
    try:
        return _open(url)
    except (sa.exc.DBAPIError, sa.exc.ArgumentError, OSError) as error:
        database_unreachable(error, url)
