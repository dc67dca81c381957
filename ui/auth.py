"""Sign-in: the first-admin setup (guarded by a one-time token), invitation links, passwords
with a TOTP code when the policy asks for one, optional SSO."""

from __future__ import annotations

import importlib.util
import json
import secrets
from datetime import datetime, timezone
from email.utils import format_datetime

import streamlit as st

from core.governance.accounts import (Account, account_by_email, add_user, authenticate,
                                      count_accounts)
from core.base.channel import set_channel
from core.governance.web_sessions import (close_session, open_session, public_session_id,
                                          session_account)
from db.engine import Database
from ui.feedback import core_call, show_flashes, show_problems
from ui.format import plain
from ui.invitations import ACCEPTED_KEY, INVITE_PARAM, accept_form
from ui.setup_token import setup_token

TOKEN_KEY = "_session_token"
EXPIRES_KEY = "_session_expires"
FORGET_KEY = "_forget_cookie"
COOKIE = "pa_session"
COOKIE_SCRIPT_KEY = "session_cookie_script"


def _start_session(db: Database, account: Account) -> None:
    """Signed in: a server-side session whose token the browser keeps in a cookie."""
    opened = open_session(db, account.username)
    st.session_state[TOKEN_KEY] = opened.token
    st.session_state[EXPIRES_KEY] = opened.expires_at
    st.session_state.pop(FORGET_KEY, None)
    st.session_state.pop(ACCEPTED_KEY, None)


def signed_in_account(db: Database) -> Account | None:
    """The account of this browser tab, checked against the session table on every run, so a
    sign-out in another tab, a disabled account or a changed password end it at once.

    The token comes from this tab's state, or else from the cookie the browser sent when the tab
    connected (a reload, a new tab, a shared link)."""
    token = st.session_state.get(TOKEN_KEY)
    if token is None and not st.session_state.get(FORGET_KEY):
        token = _cookie()
    if not token:
        return None
    with core_call():
        account = session_account(db, token)
        if account is not None:
            st.session_state[TOKEN_KEY] = token
            return account
    # Over (signed out elsewhere, expired, disabled): this tab forgets it, and so does the browser.
    for key in (TOKEN_KEY, EXPIRES_KEY):
        st.session_state.pop(key, None)
    st.session_state[FORGET_KEY] = token
    return None


def _cookie() -> str | None:
    """The session cookie this tab's browser sent when it connected (AppTest has no browser)."""
    value = st.context.cookies.get(COOKIE)
    return value if isinstance(value, str) else None


def keep_cookie() -> None:
    """Hand the session token to the browser, which sends it back when a tab connects (read with
    `st.context.cookies`). A script in the page sets it: unlike a component, it sends nothing back,
    so the sign-in is not followed by one more run that would swallow a click made meanwhile.
    Drawn on every run; the browser runs it again whenever the element is drawn anew, which
    sets the same value."""
    token, expires = st.session_state.get(TOKEN_KEY), st.session_state.get(EXPIRES_KEY)
    if token and expires:
        _write_cookie(token, expires)


def _forget_cookie() -> None:
    """Delete the cookie of the session this tab has ended, and only that one: the script may run
    again later (whenever its element is drawn anew), by which time another tab may have signed
    in and set a new cookie, which must stay."""
    ended = st.session_state.get(FORGET_KEY)
    if isinstance(ended, str) and ended:
        _write_cookie("", datetime(1970, 1, 1, tzinfo=timezone.utc), only_if=ended)


def _write_cookie(value: str, expires: datetime, only_if: str | None = None) -> None:
    """`document.cookie` for the whole site: SameSite=Strict, Secure when served over HTTPS, and
    an expiry in the past to delete it (`only_if` the cookie still holds that value). Values are
    URL-safe tokens, quoted as JS strings."""
    when = format_datetime(expires.astimezone(timezone.utc), usegmt=True)  # never the locale's
    attributes = f"; expires={when}; path=/; SameSite=Strict"
    script = (f"document.cookie = {json.dumps(COOKIE + '=' + value + attributes)}"
              " + (location.protocol === 'https:' ? '; Secure' : '');")
    if only_if is not None:
        held = f"(document.cookie.match(/(?:^|; ){COOKIE}=([^;]*)/) || [])[1]"
        script = f"if ({held} === {json.dumps(only_if)}) {{ {script} }}"
    # A keyed container whose wrapper its own style hides: no gap in the layout where it is drawn.
    hide = f'[data-testid="stLayoutWrapper"]:has(> .st-key-{COOKIE_SCRIPT_KEY}) {{display: none}}'
    with st.container(key=COOKIE_SCRIPT_KEY):
        st.html(f"<style>{hide}</style><script>{script}</script>", unsafe_allow_javascript=True)


def client_address() -> str | None:
    """Where this browser session connects from, for the sign-in throttle: Streamlit's view of
    the connection (None when local; the throttle then counts it as one "unknown" client)."""
    try:
        address = st.context.ip_address
    except Exception:  # noqa: BLE001 - no context outside a browser session: no address
        return None
    # Only a string is an address (a test harness may hand back a stand-in object).
    return address if isinstance(address, str) else None


def forget_this_tab() -> None:
    """This tab's session is over: its state goes, the browser forgets its cookie on the next
    run, and single sign-on signs out too (or it would sign straight back in)."""
    ended = st.session_state.get(TOKEN_KEY) or _cookie() or ""
    st.session_state.clear()
    st.session_state[FORGET_KEY] = ended or True  # True: nothing known to delete, still forget
    if _sso_configured() and _sso_user_email():
        st.logout()


def sign_out(db: Database) -> None:
    with core_call():
        close_session(db, st.session_state.get(TOKEN_KEY))
    forget_this_tab()
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
        _start_session(db, account)
        st.rerun()


def sign_in_form(db: Database) -> None:
    st.title("🔐 Sign in")
    show_flashes()  # what ended this tab's session, when it was this tab (sign out everywhere)
    accepted = st.session_state.get(ACCEPTED_KEY)  # until signed in: a rerun must not lose it
    if accepted:
        st.success(f"Your password is set, {accepted}: sign in with it.")
        st.session_state.setdefault("signin_username", accepted)
    if _sso_configured():
        _sso_section(db)
    with st.form("sign_in"):
        username = st.text_input("Username", key="signin_username")
        password = st.text_input("Password", type="password", key="signin_password")
        code = st.text_input("Authenticator code (if you set one up)", key="signin_totp",
                             max_chars=8, help="Governors and admins, when the policy requires "
                                               "a second factor: the 6 digits your app shows.")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        with core_call():
            account = authenticate(db, username, password, client=client_address(),
                                   totp=code.strip() or None)
            _start_session(db, account)
            st.rerun()


def _sso_section(db: Database) -> None:
    email = _sso_user_email()
    if email:
        with core_call():
            account = account_by_email(db, email)
            if account is not None:
                _start_session(db, account)
                st.rerun()
        st.warning(f"No active account has the email {plain(email)}; ask an admin to add one.")
        st.button("Sign out of single sign-on", key="sso_logout", on_click=st.logout)
    else:
        st.button("🔑 Sign in with single sign-on", key="sso_login", on_click=st.login)
    st.caption("or with a username and password:")


def require_account(db: Database) -> Account:
    """The signed-in account; otherwise the setup or sign-in screen, and the page stops. An
    invitation link (`/?invite=CODE`) opens the form to choose one's password first.

    Every activity row this run writes names the channel `web` and, once signed in, the session
    (set on every run: the script thread serves this one browser session)."""
    set_channel(channel="web")
    code = st.query_params.get(INVITE_PARAM)
    if code:
        accept_form(db, code)
        st.stop()
    account = signed_in_account(db)
    if account is not None:
        set_channel(channel="web", session_id=public_session_id(st.session_state[TOKEN_KEY]))
        return account
    with core_call():
        if count_accounts(db) == 0:
            first_admin_form(db)
        else:
            sign_in_form(db)
    _forget_cookie()
    st.stop()
