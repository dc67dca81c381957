"""How long a dashboard sign-in lasts, on SQLite and PostgreSQL, with a fixed clock: twelve
hours to the second, whatever the constant behind it says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.governance.accounts import add_user, authenticate
from core.governance.web_sessions import open_session, session_account

PASSWORD = "correct horse battery"
SIGNED_IN = datetime(2031, 3, 4, 9, 15, 30, tzinfo=UTC)
TWELVE_HOURS = timedelta(hours=12)  # the documented lifetime, written out rather than imported


def test_a_session_expires_exactly_twelve_hours_after_sign_in_and_is_refused_a_second_later(db):
    add_user(db, "ada", "admin", PASSWORD)
    opened = open_session(db, authenticate(db, "ada", PASSWORD).username, now=SIGNED_IN)
    assert opened.expires_at == SIGNED_IN + TWELVE_HOURS
    last_second = SIGNED_IN + TWELVE_HOURS - timedelta(seconds=1)
    assert session_account(db, opened.token, now=last_second).username == "ada"
    assert session_account(db, opened.token, now=SIGNED_IN + TWELVE_HOURS) is None
    assert session_account(db, opened.token,
                           now=SIGNED_IN + TWELVE_HOURS + timedelta(seconds=1)) is None
