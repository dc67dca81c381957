"""Admin: the allocation policy (versioned), the accounts and invitations, API tokens and
webhooks. Admins only."""

import streamlit as st

from core.allocation.policy import POLICY_KEYS, with_setting
from core.governance.accounts import ROLES, disable_user, enable_user, set_role
from core.governance.policy_store import set_policy
from ui import confirm, readers
from ui.api_access import api_access_section
from ui.feedback import core_call
from ui.format import plain, when
from ui.invitations import invite_section, reset_button
from ui.page import setup_page

page = setup_page("Admin", "🛠️", role="admin")


def setting_text(value) -> str:
    """A policy value in the words the New value box accepts ('off', true/false), not Python's
    None/False."""
    if value is None:
        return "off"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)



st.subheader("📐 Policy")
policy = readers.policy(page.db)
values = policy.as_json()
st.dataframe([{"key": k, "value": setting_text(values.get(k))} for k in POLICY_KEYS], hide_index=True,
             key="admin_policy_table", height="content")  # every setting, no inner scrolling
with st.form("policy_set"):
    key_col, value_col = st.columns(2)
    key = key_col.selectbox("Setting", POLICY_KEYS, key="policy_key")
    value = value_col.text_input("New value", key="policy_value",
                                 help="Percentages as numbers, true/false, or 'off' for the "
                                      "auto-approval threshold.")
    slot = st.empty()
    if st.form_submit_button("💾 Change the policy…"):
        with core_call({key: slot}):
            new = with_setting(policy, key, value).as_json().get(key)  # refused here, not later
            confirm.ask("policy", key=key, value=value, old=setting_text(values.get(key)),
                        new=setting_text(new))
with st.expander("Policy versions"):
    st.dataframe(readers.policy_versions(page.db), hide_index=True, key="admin_policy_versions")

st.subheader("👥 Accounts")
accounts = readers.accounts(page.db)
st.dataframe([{"username": a.username, "name": a.display_name, "role": a.role,
               "active": a.active, "email": a.email or "", "since": when(a.created_at)}
              for a in accounts], hide_index=True, key="admin_accounts")

# Invitations, not passwords chosen by someone else: the invitee sets their own.
invite_section(page.db, page.username)

others = [a.username for a in accounts if a.username != page.username]
if others:
    st.markdown("**Change an account**")
    who_col, role_col, act_col = st.columns([2, 2, 2])
    who = who_col.selectbox("Account", others, key="change_who")
    chosen = next(a for a in accounts if a.username == who)
    old_role = chosen.role
    # The role box starts at the chosen account's role, again whenever another account is chosen
    # (or its role changed): set before the widget exists, so the browser shows it too.
    if st.session_state.get("_change_role_of") != (who, old_role):
        st.session_state["change_role"] = old_role
        st.session_state["_change_role_of"] = (who, old_role)
    new_role = role_col.selectbox("Role", ROLES, key="change_role")
    with act_col:
        st.write("")
        if st.button("🔁 Set role…", key="change_set_role"):
            confirm.ask("set_role", who=who, old=old_role, new=new_role)
        if not chosen.active:
            if st.button("✅ Enable…", key="change_enable"):
                confirm.ask("enable", who=who, role=old_role)
        elif st.button("⛔ Disable…", key="change_disable"):
            confirm.ask("disable", who=who, role=old_role)
        reset_button(who)



def confirmed_change(action: str, title: str, label: str, describe, write, done) -> None:
    """An admin change behind its confirmation: `describe` says what changes (Markdown of our own
    making; user text through `plain`), `write` makes the one core call, `done` is the notice."""
    confirm.confirmation(action, title, lambda d: st.markdown(describe(d)) or True,
                         lambda d: (write(d), done(d))[1], confirm_label=label)


confirmed_change(
    "policy", "Change the policy?", "💾 Change the policy",
    lambda d: f"**{d['key']}**: {plain(d['old'])} → **{plain(d['new'])}**. A new policy version "
              "is written and applies to every decision from now on.",
    lambda d: set_policy(page.db, d["key"], d["value"], by=page.username),
    lambda d: f"💾 Policy: {d['key']} is now {plain(d['new'])}.")
confirmed_change(
    "set_role", "Change this role?", "🔁 Set role",
    lambda d: f"**{d['who']}**: {d['old']} → **{d['new']}**. It takes effect on their next click.",
    lambda d: set_role(page.db, d["who"], d["new"], by=page.username),
    lambda d: f"🔁 {d['who']} is now a {d['new']}.")
confirmed_change(
    "disable", "Disable this account?", "⛔ Disable",
    lambda d: f"**{d['who']}** ({d['role']}) can no longer sign in, and every session of theirs "
              "ends on their next click.",
    lambda d: disable_user(page.db, d["who"], by=page.username),
    lambda d: f"⛔ {d['who']} is disabled and can no longer sign in.")
confirmed_change(
    "enable", "Enable this account again?", "✅ Enable",
    lambda d: f"**{d['who']}** ({d['role']}) can sign in again with their password, with the "
              "role they had.",
    lambda d: enable_user(page.db, d["who"], by=page.username),
    lambda d: f"✅ {d['who']} is enabled and can sign in again.")

api_access_section(page, [a.username for a in accounts if a.active])
