"""Invitations on the dashboard: the Admin page's Invite form and password resets (each code shown
once), and the form an invitation link (`/?invite=CODE`) opens, where the invitee chooses their
own password. Nobody types a password for someone else."""

from __future__ import annotations

from urllib.parse import urlsplit

import streamlit as st

from core.governance.accounts import ROLES
from core.governance.invitations import (INVITATION_LIFETIME, IssuedInvitation,
                                         accept_invitation, invite_user, issue_reset,
                                         open_invitations)
from db.engine import Database
from ui import confirm
from ui.feedback import after_write, core_call, show_problems
from ui.format import when

INVITE_PARAM = "invite"
ACCEPTED_KEY = "_invitation_accepted"  # the name to sign in with, after the password is chosen
_SHOWN_ONCE = "_invitation_shown_once"
_EMPTY_FORM = "_invitation_form_empty"
HOURS = int(INVITATION_LIFETIME.total_seconds() // 3600)


def _absolute(url: str) -> str:
    """The link as the admin can send it: after this dashboard's own address when core only
    knows the path (no PA_PUBLIC_URL)."""
    if urlsplit(url).scheme:
        return url
    try:
        here = urlsplit(st.context.url)
    except Exception:  # noqa: BLE001 - no browser context (AppTest): the path alone
        return url
    if not isinstance(here.scheme, str) or not here.scheme:
        return url
    return f"{here.scheme}://{here.netloc}{url}"


def _show_once(issued: IssuedInvitation) -> None:
    """Keep the new code for the one rerun that follows the write, and no longer."""
    st.session_state[_SHOWN_ONCE] = (issued.kind, issued.username, issued.code,
                                     _absolute(issued.url), issued.expires_at)


def _shown_once() -> None:
    """The new code, in this tab only, until the admin says it is sent (a rerun by another
    widget or component must not lose it before it is copied); never again after that."""
    if _SHOWN_ONCE not in st.session_state:
        return
    kind, username, code, url, expires_at = st.session_state[_SHOWN_ONCE]
    what = "Invitation" if kind == "invite" else "Password reset"
    st.warning(f"{what} for {username}: send them this link (or the code, for `users accept`). "
               f"It works once, until {when(expires_at)}; it is shown this once and never stored "
               "in the clear.")
    st.code(url, language=None)
    st.code(code, language=None)
    if st.button("✔️ Sent: hide it", key="invitation_hide"):
        st.session_state.pop(_SHOWN_ONCE, None)
        st.rerun()


def invite_section(db: Database, admin: str) -> None:
    """The Admin page's invitations: the form, a new code once, the open ones, resets."""
    _shown_once()
    if st.session_state.pop(_EMPTY_FORM, False):
        # An empty form for the next one, set before its widgets exist: the browser then shows
        # it empty too (deleting the state would leave the old text on the screen).
        st.session_state["invite_username"] = ""
        st.session_state["invite_role"] = ROLES[0]
    with st.form("account_invite"):  # fields kept on a refusal, so they can be corrected
        st.markdown(f"**Invite someone** (they choose their own password; the link works once, "
                    f"for {HOURS} hours)")
        left, right = st.columns(2)
        username = left.text_input("Username", key="invite_username")
        slots = {"username": left.empty()}
        role = right.selectbox("Role", ROLES, key="invite_role")
        if st.form_submit_button("✉️ Invite"):
            with core_call(slots):
                issued = invite_user(db, username, role, by=admin)
                _show_once(issued)
                st.session_state[_EMPTY_FORM] = True
                after_write(f"✉️ {issued.username} is invited as {issued.role}.")
    waiting = open_invitations(db)
    if waiting:
        st.caption("Waiting to be accepted (an account exists only once its invitation is):")
        st.dataframe([{"username": i.username, "kind": i.kind, "role": i.role or "",
                       "by": i.created_by, "until": when(i.expires_at)} for i in waiting],
                     hide_index=True, key="admin_invitations")
    confirm.confirmation(
        "reset", "Give this account a password reset?",
        lambda d: st.markdown(
            f"**{d['who']}** gets a single-use reset link, valid {HOURS} hours, to choose a new "
            "password. Their password works until they use it; using it signs them out "
            "everywhere. You will see the link once.") or True,
        lambda d: (_show_once(issue_reset(db, d["who"], by=admin)),
                   f"🔑 Password reset for {d['who']} issued.")[1],
        confirm_label="🔑 Issue the reset link")


def reset_button(who: str) -> None:
    if st.button("🔑 Password reset…", key="change_reset"):
        confirm.ask("reset", who=who)


def accept_form(db: Database, code: str) -> None:
    """What an invitation link opens: choose a password (twice), then sign in with it."""
    st.title("✉️ Choose your password")
    st.write("This link is yours alone and works once. Choose a password of at least 10 "
             "characters; nobody else, admins included, ever sees it.")
    with st.form("invite_accept"):
        password = st.text_input("Password", type="password", key="invite_password")
        slots = {"password": st.empty()}
        again = st.text_input("Password again", type="password", key="invite_password_again")
        slots["again"] = st.empty()
        submitted = st.form_submit_button("Set my password", type="primary")
    if not submitted:
        return
    if password != again:
        show_problems(["again: the two passwords differ"], slots)
        return
    with core_call(slots):
        account = accept_invitation(db, code, password)
        del st.query_params[INVITE_PARAM]  # the link is spent: the address no longer holds it
        for key in ("invite_password", "invite_password_again"):
            st.session_state.pop(key, None)
        st.session_state[ACCEPTED_KEY] = account.username
        st.rerun()
