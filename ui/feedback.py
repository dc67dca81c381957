"""Core's exceptions as the pages show them, and one-shot notices.

The one place the dashboard maps failures: refusals become messages next to the inputs they
concern; database failures (already translated by core, `core.base.sessions`) a plain notice saying
what happened: busy (try again), unreachable, a change refused, a read that failed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any, NoReturn

import sqlalchemy as sa
import streamlit as st

from core.base.errors import (Conflict, DatabaseBusy, DatabaseFailure, DomainError,
                              InvalidDatabaseUrl, ReadFailed)
from settings import get_settings

_FLASH_KEY = "_flash"


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is itself the message
        return "(malformed DATABASE_URL)"


def show_database_failure(failure: DatabaseFailure) -> None:
    """Say plainly what the database did (no traceback, no password)."""
    detail = failure.reason or failure.problems[0]
    if isinstance(failure, DatabaseBusy):
        st.warning(f"⏳ The database is busy with another change ({detail}); nothing was "
                   "written. Try again in a moment.")
    elif isinstance(failure, ReadFailed):
        st.error(f"🚫 The database could not read this data ({detail}).")
    elif isinstance(failure, InvalidDatabaseUrl):
        st.error(f"🔌 DATABASE_URL is not a usable database URL ({detail}).")
    else:
        where = safe_url(get_settings().database_url)
        st.error(f"🔌 The database cannot be reached ({where}): {detail}. "
                 "Check that it is running and that DATABASE_URL is right, then reload the page.")


def stop_on_database_failure(failure: DatabaseFailure) -> NoReturn:
    """For reads a page cannot do without: say what happened, then stop the page."""
    show_database_failure(failure)
    st.stop()


def field_of(problem: str) -> str | None:
    """Core names the field first (`dao: 31 is above the maximum 30`)."""
    head, sep, _ = problem.partition(":")
    return head.strip() if sep and " " not in head.strip() else None


def show_problems(problems: list[str], slots: Mapping[str, Any] | None = None,
                  warnings: list[str] = ()) -> None:
    """Each problem under the input it names (a slot from `st.empty()`), the rest here.

    Errors and warnings of one field share its slot: an `st.empty` holds one element, so they
    are drawn together in one container (a second call would replace the first).
    """
    slots = slots or {}
    grouped: dict[str | None, list[tuple[str, str]]] = {}
    for kind, items in (("error", problems), ("warning", warnings)):
        for item in items:
            field = field_of(item)
            grouped.setdefault(field if field in slots else None, []).append((kind, item))
    for field, items in grouped.items():
        with slots[field].container() if field is not None else nullcontext():
            for kind, item in items:
                if kind == "error":
                    st.error(item, icon="🚫")
                else:
                    st.warning(item, icon="⚠️")


@contextmanager
def core_call(slots: Mapping[str, Any] | None = None) -> Iterator[None]:
    """Run a core call; a refusal becomes plain messages, a database failure a clear notice.

    Streamlit's own control-flow exceptions (rerun, stop) pass through untouched.
    """
    try:
        yield
    except DatabaseFailure as failure:
        if isinstance(failure, (DatabaseBusy, ReadFailed)):
            show_database_failure(failure)  # the rest of the page still works: carry on
        else:
            stop_on_database_failure(failure)
    except Conflict as conflict:
        st.error(f"🚫 The database refused the change ({conflict.reason or conflict}); "
                 "nothing was written.")
        st.cache_data.clear()
    except DomainError as refusal:
        show_problems(refusal.problems, slots)
        # A refusal often means the data moved under the page (another governor decided,
        # the policy changed): what the page shows next must be read afresh.
        st.cache_data.clear()


def flash(message: str, kind: str = "success") -> None:
    """A notice to show once, after the rerun that follows a write."""
    st.session_state.setdefault(_FLASH_KEY, []).append((kind, message))


def show_flashes() -> None:
    for kind, message in st.session_state.pop(_FLASH_KEY, []):
        {"success": st.success, "info": st.info, "warning": st.warning,
         "error": st.error}.get(kind, st.info)(message)


def after_write(message: str | None = None, kind: str = "success") -> None:
    """A write succeeded: drop cached reads, keep the notice, and run the page again."""
    if message:
        flash(message, kind)
    st.cache_data.clear()
    st.rerun()
