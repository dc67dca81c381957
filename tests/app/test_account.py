"""The sidebar's My account panel: one's own password, and signing out everywhere."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core.governance.accounts import authenticate
from core.record.activity import list_activity
from tests.app.helpers import (PASSWORD, ROOT, TIMEOUT, all_text, button, no_exception, open_page,
                               sign_in_as)

NEW_PASSWORD = "a brand new passphrase"


def _another_tab(user: str) -> AppTest:
    """Another browser signed in as `user` (its own session)."""
    tab = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    sign_in_as(tab, user)
    return tab.run()


def _signed_in(at: AppTest) -> bool:
    return "🔐 Sign in" not in [t.value for t in at.title]


def _change(at: AppTest, current: str, new: str, again: str | None = None) -> AppTest:
    at.text_input(key="password_current").input(current)
    at.text_input(key="password_new").input(new)
    at.text_input(key="password_again").input(new if again is None else again)
    return button(at, "🔑 Change my password").click().run()


def test_changing_ones_password_keeps_this_tab_and_ends_the_others(plain_db):
    elsewhere = _another_tab("gus")
    assert _signed_in(elsewhere)
    at = _change(open_page(user="gus"), PASSWORD, NEW_PASSWORD)
    no_exception(at)
    assert "Your password is changed; 1 other session(s) ended" in all_text(at)
    assert _signed_in(at.run())  # this tab stays
    assert not _signed_in(elsewhere.run())  # the other one is over
    assert authenticate(plain_db, "gus", NEW_PASSWORD).username == "gus"
    assert [at.text_input(key=k).value for k in
            ("password_current", "password_new", "password_again")] == ["", "", ""]
    [changed] = list_activity(plain_db, activity_type="password_changed")
    assert changed.metadata["via"]["channel"] == "web" and changed.metadata["sessions_ended"] == 1
    assert NEW_PASSWORD not in str(changed.as_json()) and PASSWORD not in str(changed.as_json())


def test_a_wrong_current_password_is_refused_next_to_it_and_counted(plain_db):
    from sqlalchemy import select

    from db.models import SignInFailure

    elsewhere = _another_tab("gus")
    at = _change(open_page(user="gus"), "not my password", NEW_PASSWORD)
    no_exception(at)
    assert "current_password: this is not your current password" in [e.value for e in at.error]
    with plain_db.reads() as session:  # a failed sign-in, as the sign-in form would count it
        assert session.scalar(select(SignInFailure.failures).where(
            SignInFailure.username == "gus")) == 1
    assert authenticate(plain_db, "gus", PASSWORD).username == "gus"  # unchanged
    assert _signed_in(elsewhere.run()) and _signed_in(at)


def test_differing_or_short_new_passwords_are_refused_and_change_nothing(plain_db):
    at = _change(open_page(user="gus"), PASSWORD, NEW_PASSWORD, again="something else entirely")
    assert "again: the two new passwords differ" in [e.value for e in at.error]
    at = _change(at, PASSWORD, "short")
    assert "password: must be at least 10 characters" in [e.value for e in at.error]
    assert authenticate(plain_db, "gus", PASSWORD).username == "gus"
    assert list_activity(plain_db, activity_type="password_changed") == []


def test_signing_out_everywhere_asks_first_then_ends_every_session_this_one_too(plain_db):
    elsewhere = _another_tab("vic")
    at = open_page(user="vic")
    at = at.button(key="sign_out_everywhere").click().run()
    assert "Every dashboard session of your account ends" in all_text(at)
    assert _signed_in(elsewhere.run())  # not before the confirmation
    at = at.button(key="confirm_sign_out_everywhere").click().run()
    no_exception(at)
    assert not _signed_in(at)
    assert "Signed out everywhere: 2 session(s) ended." in all_text(at)
    assert not _signed_in(elsewhere.run())
    [ended] = list_activity(plain_db, activity_type="signed_out_everywhere")
    assert ended.metadata["sessions_ended"] == 2 and ended.metadata["by"] == "vic"
