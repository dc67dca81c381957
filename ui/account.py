"""The sidebar's My account panel: one's own password (the current one, then the new one twice)
and signing out everywhere (behind a confirmation). Both end sessions (core.governance.
web_sessions): a new password ends every other one, this tab stays signed in; signing out
everywhere ends this one too."""

from __future__ import annotations

import streamlit as st

from core.base.parsing import MIN_PASSWORD_LENGTH
from core.governance.accounts import Account
from core.governance.web_sessions import change_password, sign_out_everywhere
from db.engine import Database
from ui import confirm
from ui.auth import TOKEN_KEY, client_address, forget_this_tab
from ui.feedback import after_write, core_call, show_problems

FIELDS = ("password_current", "password_new", "password_again")
_EMPTY_FORM = "_password_form_empty"
_OPEN = "_account_panel_open"


def _password_form(db: Database, account: Account) -> None:
    if st.session_state.pop(_EMPTY_FORM, False):
        # Set before the widgets exist, so the browser empties them too.
        for key in FIELDS:
            st.session_state[key] = ""
    with st.form("password_change"):
        st.markdown("**Change my password**")
        current = st.text_input("Current password", type="password", key="password_current")
        slots = {"current_password": st.empty()}
        new = st.text_input(f"New password (at least {MIN_PASSWORD_LENGTH} characters)",
                            type="password", key="password_new")
        slots["password"] = st.empty()
        again = st.text_input("New password again", type="password", key="password_again")
        slots["again"] = st.empty()
        submitted = st.form_submit_button("🔑 Change my password")
    if not submitted:
        return
    st.session_state[_OPEN] = True  # a refusal is shown in the panel: keep it open
    if new != again:
        show_problems(["again: the two new passwords differ"], slots)
        return
    with core_call(slots):
        changed = change_password(db, account.username, new, by=account.username,
                                  current_password=current,
                                  keep_token=st.session_state.get(TOKEN_KEY),
                                  client=client_address())
        st.session_state[_EMPTY_FORM] = True
        st.session_state.pop(_OPEN, None)
        after_write(f"🔑 Your password is changed; {changed.sessions_ended} other session(s) "
                    "ended. This one stays signed in.")


def _sign_out_everywhere(db: Database, account: Account) -> str:
    ended = sign_out_everywhere(db, account.username, by=account.username)
    forget_this_tab()
    return f"🚪 Signed out everywhere: {ended.sessions_ended} session(s) ended."


def account_panel(db: Database, account: Account) -> None:
    """In the sidebar: the password form and Sign out everywhere."""
    with st.expander("👤 My account", expanded=bool(st.session_state.get(_OPEN))):
        _password_form(db, account)
        if st.button("🚪 Sign out everywhere…", key="sign_out_everywhere"):
            confirm.ask("sign_out_everywhere")
    confirm.confirmation(
        "sign_out_everywhere", "Sign out everywhere?",
        lambda _: st.markdown(
            "Every dashboard session of your account ends: other browsers and devices, and this "
            "tab. Your API tokens stay as they are (an admin revokes those).") or True,
        lambda _: _sign_out_everywhere(db, account), confirm_label="🚪 Sign out everywhere")
