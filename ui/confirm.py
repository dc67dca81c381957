"""Confirm before anything irreversible: a button only *asks*; a dialog shows what will change,
and the write happens only on its Confirm button.

What waits for confirmation is kept in the session state (not in the button's one-run value), so
the dialog comes back on every run until it is confirmed, cancelled or dismissed: a rerun by
another widget, the live queue's refresh or AppTest's whole-script runs cannot lose or repeat it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from core.base.errors import DatabaseFailure, DomainError
from ui.feedback import flash, stop_on_database_failure

PENDING_KEY = "_confirm"


def ask(action: str, **details: Any) -> None:
    """An irreversible button was clicked: open its confirmation (a full run, so the dialog opens
    even when the button sits in a fragment)."""
    st.session_state[PENDING_KEY] = {"action": action, **details}
    st.rerun()


def waiting(action: str) -> dict[str, Any] | None:
    details = st.session_state.get(PENDING_KEY)
    return details if details and details.get("action") == action else None


def forget() -> None:
    st.session_state.pop(PENDING_KEY, None)


def _carry_out(act: Callable[[dict[str, Any]], str | tuple[str, str]], details: dict[str, Any],
               refused: Callable[[dict[str, Any], DomainError], list[str]] | None) -> None:
    forget()
    try:
        outcome = act(details)
    except DatabaseFailure as failure:
        stop_on_database_failure(failure)  # busy, unreachable: said in the dialog, nothing written
    except DomainError as refusal:
        # Told on the page after the rerun (the dialog closes): the refusal often means the data
        # moved under this tab, so the cached reads go too.
        for line in (refused(details, refusal) if refused else []) + refusal.problems:
            flash(line, "error")
    else:
        message, kind = outcome if isinstance(outcome, tuple) else (outcome, "success")
        flash(message, kind)
    st.cache_data.clear()
    st.rerun()


def confirmation(action: str, title: str, show: Callable[[dict[str, Any]], bool],
                 act: Callable[[dict[str, Any]], str | tuple[str, str]], *,
                 confirm_label: str = "Confirm",
                 refused: Callable[[dict[str, Any], DomainError], list[str]] | None = None) -> None:
    """If `action` waits for confirmation, open its dialog.

    `show(details)` draws what will change and returns whether Confirm may be pressed (e.g. the
    amount has been typed again); `act(details)` makes the one core write and returns the notice
    for the page; `refused(details, error)` may add lines to a refusal (who decided instead).
    """
    details = waiting(action)
    if details is None:
        return

    @st.dialog(title, width="large", on_dismiss=forget)
    def dialog() -> None:
        ready = show(details)
        left, right = st.columns(2)
        if left.button(confirm_label, type="primary", key=f"confirm_{action}", disabled=not ready,
                       width="stretch"):
            _carry_out(act, details, refused)
        if right.button("Cancel", key=f"cancel_{action}", width="stretch"):
            forget()
            st.rerun()

    dialog()
