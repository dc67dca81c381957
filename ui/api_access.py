"""The Admin page's API section: tokens and webhook endpoints, their secrets shown once, and the
delivery log. Kept here so the page stays a short script (it calls `api_access_section`)."""

from __future__ import annotations

import streamlit as st

from core.governance import api_tokens
from core.jobs import webhooks
from core.record.outbox import ALL_EVENTS, EVENT_TYPES
from ui.feedback import after_write, core_call
from ui.format import plain, when
from ui.page import Page

_SHOWN_ONCE = "_api_secret_shown_once"
# How each secret is kept, said as it is (core.governance.api_tokens, core.jobs.webhooks): a token
# is only checked, so only its digest is kept; a signing secret must be read back to sign.
TOKEN_KEPT = "only its SHA-256 digest is stored, so nobody can show it again"
WEBHOOK_SECRET_KEPT = ("it is stored encrypted with the install's key, which is kept outside the "
                       "database, because signing each delivery needs it; the dashboard never "
                       "shows it again")


def _show_once(label: str, secret: str, kept: str) -> None:
    """Keep a new secret for the one rerun that follows the write, and no longer."""
    st.session_state[_SHOWN_ONCE] = (label, secret, kept)


def _shown_once() -> None:
    if _SHOWN_ONCE in st.session_state:
        label, secret, kept = st.session_state.pop(_SHOWN_ONCE)
        st.warning(f"{plain(label)}: copy it now, it is shown this once; {kept}.")
        st.code(secret, language=None)


def _tokens(page: Page, usernames: list[str]) -> None:
    st.subheader("🔑 API tokens")
    tokens = api_tokens.list_tokens(page.db)
    st.dataframe([{"id": t.id, "account": t.username, "name": t.name,
                   "expires": when(t.expires_at) if t.expires_at else "never",
                   "revoked": t.revoked, "last used": when(t.last_used_at) if t.last_used_at else ""}
                  for t in tokens], hide_index=True, key="admin_tokens")
    with st.form("token_create"):
        left, mid, right = st.columns([2, 2, 1])
        user = left.selectbox("Account", usernames, key="token_user")
        name = mid.text_input("Label (what uses it)", key="token_name")
        days = right.number_input("Expires in days (0: never)", 0, api_tokens.MAX_EXPIRES_DAYS,
                                  0, key="token_days")
        if st.form_submit_button("🔑 Create token"):
            with core_call():
                issued = api_tokens.create_token(page.db, user, name, by=page.username,
                                                 expires_days=int(days) or None)
                _show_once(f"Token for {issued.info.username}", issued.token, TOKEN_KEPT)
                after_write(f"🔑 Token {plain(issued.info.name)} created for {issued.info.username}.")
    live = [t for t in tokens if not t.revoked]
    if live:
        which, act = st.columns([4, 1])
        token = which.selectbox("Token", live, key="token_revoke_which",
                                format_func=lambda t: f"{t.username}: {t.name} ({t.id[:8]})")
        act.write("")
        if act.button("🚫 Revoke", key="token_revoke"):
            with core_call():
                api_tokens.revoke_token(page.db, token.id, by=page.username)
                after_write(f"🚫 Token {plain(token.name)} of {token.username} revoked.")


def _webhooks(page: Page) -> None:
    st.subheader("📣 Webhooks")
    endpoints = webhooks.list_endpoints(page.db)
    st.dataframe([{"id": e.id, "url": e.url, "events": ", ".join(e.events), "by": e.created_by,
                   "since": when(e.created_at)} for e in endpoints],
                 hide_index=True, key="admin_webhooks")
    with st.form("webhook_add"):
        url = st.text_input("Endpoint URL", key="webhook_url", placeholder="https://…")
        events = st.multiselect("Events", (ALL_EVENTS, *EVENT_TYPES), [ALL_EVENTS],
                                key="webhook_events")
        if st.form_submit_button("➕ Add endpoint"):
            with core_call():
                added = webhooks.add_endpoint(page.db, url, events, by=page.username)
                _show_once(f"Signing secret of {added.endpoint.url}", added.secret,
                           WEBHOOK_SECRET_KEPT)
                after_write(f"➕ Webhook endpoint {plain(added.endpoint.url)} added.")
    if endpoints:
        which, act = st.columns([4, 1])
        endpoint = which.selectbox("Endpoint", endpoints, key="webhook_remove_which",
                                   format_func=lambda e: e.url)
        act.write("")
        if act.button("🗑️ Remove", key="webhook_remove"):
            with core_call():
                webhooks.remove_endpoint(page.db, endpoint.id, by=page.username)
                after_write(f"🗑️ Webhook endpoint {plain(endpoint.url)} removed.")
    with st.expander("Delivery log"):
        st.dataframe([{"event": d.event_id, "type": d.type, "url": d.url, "status": d.status,
                       "attempts": d.attempts, "last answer": d.last_status_code or d.last_error or "",
                       "next attempt": when(d.next_attempt_at) if d.status == "pending" else ""}
                      for d in webhooks.list_deliveries(page.db, 100)],
                     hide_index=True, key="admin_deliveries")


def api_access_section(page: Page, usernames: list[str]) -> None:
    """Tokens and webhooks, with a secret just made shown above them, once."""
    _shown_once()
    _tokens(page, usernames)
    _webhooks(page)
