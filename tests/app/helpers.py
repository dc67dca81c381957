"""Helpers for the AppTest tests: open a page signed in, find buttons, read what the page says."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.database import connect
from core.governance.web_sessions import open_session
from settings import get_settings
from ui.auth import EXPIRES_KEY, TOKEN_KEY

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
TIMEOUT = 30


def open_page(page: str = "app.py", user: str | None = None) -> AppTest:
    """The dashboard on `page`, signed in as `user` (None: nobody), after its first run."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    if user is not None:
        sign_in_as(at, user)
    if page != "app.py":
        at.switch_page(page)
    return at.run()


def sign_in_as(at: AppTest, user: str) -> str:
    """A real server-side session for `user`, its token in the tab's state (as after a sign-in)."""
    db = connect(get_settings().database_url)
    try:
        opened = open_session(db, user)
    finally:
        db.engine.dispose()
    at.session_state[TOKEN_KEY] = opened.token
    at.session_state[EXPIRES_KEY] = opened.expires_at
    return opened.token


def texts(elements) -> list[str]:
    return [str(e.value) for e in elements]


def all_text(at: AppTest) -> str:
    """Every message, markdown, caption and title on the page, for `in` assertions."""
    parts = []
    for kind in ("title", "subheader", "markdown", "caption", "text", "error", "warning", "info",
                 "success"):
        parts += texts(getattr(at, kind))
    return "\n".join(parts)


def button(at: AppTest, label: str):
    """A button by its label (form submit buttons have no key of ours)."""
    found = [b for b in at.button if b.label == label]
    assert found, f"no button {label!r}; buttons: {[b.label for b in at.button]}"
    return found[0]


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
