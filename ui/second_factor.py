"""The sidebar's Second factor panel: one's own TOTP enrolment, the QR code and URI shown once,
and the code field of the review dialogs when the policy asks for one."""

from __future__ import annotations

import io

import segno
import streamlit as st

from core.governance.second_factor import DIGITS, enroll_totp, has_totp, requires_totp
from db.engine import Database
from ui.feedback import after_write, core_call

_SHOWN_ONCE = "_totp_shown_once"


def qr_png(uri: str) -> bytes:
    """The URI as a QR code (segno, pure Python), for an authenticator app's camera."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="png", scale=5, border=2)
    return buffer.getvalue()


def _shown_once() -> None:
    """The new secret, in this tab only, until its owner says it is scanned (a rerun by another
    widget must not lose it first); never again after that."""
    uri = st.session_state.get(_SHOWN_ONCE)
    if uri is None:
        return
    st.warning("Scan this with your authenticator app now: it is shown this once.")
    st.image(qr_png(uri), caption="Your second factor")
    st.code(uri, language=None)
    if st.button("✔️ Scanned: hide it", key="totp_hide"):
        st.session_state.pop(_SHOWN_ONCE, None)
        st.rerun()


def totp_panel(db: Database, username: str, role_may_review: bool) -> None:
    """Set up (or replace) one's own authenticator app."""
    enrolled = has_totp(db, username)
    required = requires_totp(db, username)
    with st.expander("🔐 Second factor", expanded=_SHOWN_ONCE in st.session_state
                     or (required and not enrolled)):
        _shown_once()
        if enrolled:
            st.caption("An authenticator app is set up for your account.")
        elif required:
            st.warning("The policy requires a second factor: set one up to review.")
        elif role_may_review:
            st.caption("Governors and admins can be asked for a code from an authenticator app.")
        code = None
        if enrolled and required:
            code = st.text_input("Current code (to replace it)", key="totp_replace_code",
                                 max_chars=8)
        label = "🔁 Replace my authenticator app" if enrolled else "📱 Set up an authenticator app"
        if st.button(label, key="totp_enroll"):
            with core_call():
                enrollment = enroll_totp(db, username, by=username, code=code or None)
                st.session_state[_SHOWN_ONCE] = enrollment.otpauth_uri
                after_write()


def review_code_field(db: Database, username: str, key: str) -> bool:
    """In a review dialog: the code field when the policy asks this account for one. Returns
    whether the review may go ahead (no code needed, or one of the right length typed)."""
    if not requires_totp(db, username):
        return True
    if not has_totp(db, username):
        st.error("The policy requires a second factor to review, and your account has none: set "
                 "one up in the sidebar's Second factor panel first.")
        return False
    code = st.text_input("Authenticator code", key=key, max_chars=8,
                         help=f"The {DIGITS} digits your authenticator app shows now.")
    return len("".join(code.split())) == DIGITS
