"""Sign-in: the first-admin setup (guarded by a one-time token), passwords, optional SSO."""

from __future__ import annotations

import importlib.util
import os
import secrets

import streamlit as st

from core.accounts import Account, account_by_email, add_user, authenticate, count_accounts, get_account
from db.engine import Database
from ui.feedback import core_call, show_problems

USER_KEY = "username"
SETUP_TOKEN_ENV = "PA_SETUP_TOKEN"


@st.cache_resource(show_spinner=False)
def setup_token() -> str:
    """One token per server process, printed to the server's terminal (as Jupyter does), so only
    someone who can see that terminal can claim an install that has no accounts yet."""
    token = os.environ.get(SETUP_TOKEN_ENV) or secrets.token_urlsafe(24)
    print("\n" + "=" * 72 + "\n  No accounts yet. To create the first admin in the browser, use this"
          f"\n  one-time setup token:\n\n      {token}\n" + "=" * 72 + "\n", flush=True)
    return token


def signed_in_account(db: Database) -> Account | None:
    """The account of this browser session, read fresh so a disabled account is out at once."""
    username = st.session_state.get(USER_KEY)
    if not username:
        return None
    with core_call():
        account = get_account(db, username)
        if account is not None and account.active:
            return account
    st.session_state.pop(USER_KEY, None)
    return None


def client_address() -> str | None:
    """Where this browser session connects from, for the sign-in throttle: Streamlit's view of
    the connection (None when local; the throttle then counts it as one "unknown" client)."""
    try:
        address = st.context.ip_address
    except Exception:  # noqa: BLE001 - no context outside a browser session: no address
        return None
    # Only a string is an address (a test harness may hand back a stand-in object).
    return address if isinstance(address, str) else None


def sign_out() -> None:
    st.session_state.clear()
    if _sso_configured() and _sso_user_email():
        st.logout()
    st.rerun()


def _sso_configured() -> bool:
    """An [auth] block in the secrets, and Authlib installed (st.login needs it)."""
    if importlib.util.find_spec("authlib") is None:
        return False
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file at all: no SSO
        return False


def _sso_user_email() -> str | None:
    try:
        return st.user.get("email") if st.user.get("is_logged_in") else None
    except Exception:  # noqa: BLE001
        return None


def first_admin_form(db: Database) -> None:
    token = setup_token()
    st.title("👋 Welcome: create the first admin")
    st.write("This install has no accounts yet. The server printed a one-time **setup token** "
             "to its terminal; enter it to create the first admin account.")
    with st.form("first_admin"):
        entered = st.text_input("Setup token", type="password", key="setup_token")
        slots = {"token": st.empty()}
        username = st.text_input("Username", key="setup_username")
        slots["username"] = st.empty()
        password = st.text_input("Password (at least 10 characters)", type="password",
                                 key="setup_password")
        slots["password"] = st.empty()
        again = st.text_input("Password again", type="password", key="setup_password_again")
        slots["again"] = st.empty()
        submitted = st.form_submit_button("Create admin account", type="primary")
    if not submitted:
        return
    problems = []
    if not secrets.compare_digest(entered.strip().encode(), token.encode()):
        problems.append("token: this is not the setup token the server printed")
    if password != again:
        problems.append("again: the two passwords differ")
    if problems:
        show_problems(problems, slots)
        return
    with core_call(slots):
        account = add_user(db, username, "admin", password)
        st.session_state[USER_KEY] = account.username
        st.rerun()


def sign_in_form(db: Database) -> None:
    st.title("🔐 Sign in")
    if _sso_configured():
        _sso_section(db)
    with st.form("sign_in"):
        username = st.text_input("Username", key="signin_username")
        password = st.text_input("Password", type="password", key="signin_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        with core_call():
            account = authenticate(db, username, password, client=client_address())
            st.session_state[USER_KEY] = account.username
            st.rerun()


def _sso_section(db: Database) -> None:
    email = _sso_user_email()
    if email:
        with core_call():
            account = account_by_email(db, email)
            if account is not None:
                st.session_state[USER_KEY] = account.username
                st.rerun()
        st.warning(f"No active account has the email {email}; ask an admin to add one.")
        st.button("Sign out of single sign-on", key="sso_logout", on_click=st.logout)
    else:
        st.button("🔑 Sign in with single sign-on", key="sso_login", on_click=st.login)
    st.caption("or with a username and password:")


def require_account(db: Database) -> Account:
    """The signed-in account; otherwise the setup or sign-in screen, and the page stops."""
    account = signed_in_account(db)
    if account is not None:
        return account
    with core_call():
        if count_accounts(db) == 0:
            first_admin_form(db)
        else:
            sign_in_form(db)
    st.stop()
