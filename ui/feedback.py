"""Turning core's refusals into messages next to the inputs they concern, and one-shot notices."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any

import sqlalchemy as sa
import streamlit as st

from core.errors import DomainError
from ui.db import database_unreachable

_FLASH_KEY = "_flash"


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
    """Run a core call; a refusal becomes plain messages, a lost database a clear notice.

    Streamlit's own control-flow exceptions (rerun, stop) pass through untouched.
    """
    try:
        yield
    except DomainError as refusal:
        show_problems(refusal.problems, slots)
        # A refusal often means the data moved under the page (another governor decided,
        # the policy changed): what the page shows next must be read afresh.
        st.cache_data.clear()
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
        database_unreachable(error)
    except sa.exc.DBAPIError as error:
        reason = (str(error.orig).strip().splitlines() or ["constraint"])[0][:200]
        st.error(f"🚫 The database refused the change ({reason}); nothing was written.")


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
