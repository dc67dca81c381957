"""Admin: the allocation policy (versioned), the accounts, API tokens and webhooks. Admins only."""

import streamlit as st

from core.accounts import ROLES, add_user, disable_user, set_role
from core.policy import POLICY_KEYS
from core.policy_store import set_policy
from ui import readers
from ui.api_access import api_access_section
from ui.feedback import after_write, core_call
from ui.format import when
from ui.page import setup_page

page = setup_page("Admin", "🛠️", role="admin")

st.subheader("📐 Policy")
policy = readers.policy(page.db)
values = policy.as_json()
st.dataframe([{"key": k, "value": str(values.get(k))} for k in POLICY_KEYS], hide_index=True,
             key="admin_policy_table", height=280)
with st.form("policy_set"):
    key_col, value_col = st.columns(2)
    key = key_col.selectbox("Setting", POLICY_KEYS, key="policy_key")
    value = value_col.text_input("New value", key="policy_value",
                                 help="Percentages as numbers, true/false, or 'off' for the "
                                      "auto-approval threshold.")
    slot = st.empty()
    if st.form_submit_button("💾 Change the policy"):
        with core_call({key: slot}):
            set_policy(page.db, key, value, by=page.username)
            after_write(f"💾 Policy: {key} is now {value}.")
with st.expander("Policy versions"):
    st.dataframe(readers.policy_versions(page.db), hide_index=True, key="admin_policy_versions")

st.subheader("👥 Accounts")
accounts = readers.accounts(page.db)
st.dataframe([{"username": a.username, "name": a.display_name, "role": a.role,
               "active": a.active, "email": a.email or "", "since": when(a.created_at)}
              for a in accounts], hide_index=True, key="admin_accounts")

with st.form("account_add"):  # fields kept on a refusal, so they can be corrected
    st.markdown("**Add an account**")
    left, right = st.columns(2)
    username = left.text_input("Username", key="new_username")
    slots = {"username": left.empty()}
    role = right.selectbox("Role", ROLES, key="new_role")
    password = left.text_input("Initial password (at least 10 characters)", type="password",
                               key="new_password")
    slots["password"] = left.empty()
    email = right.text_input("Email (optional, for single sign-on)", key="new_email")
    slots["email"] = right.empty()
    if st.form_submit_button("➕ Add account"):
        with core_call(slots):
            add_user(page.db, username, role, password or None, by=page.username,
                     email=email.strip() or None)
            for key in ("new_username", "new_password", "new_email"):
                del st.session_state[key]  # an empty form for the next account
            after_write(f"➕ Account {username.strip().lower()} ({role}) created.")

others = [a.username for a in accounts if a.username != page.username]
if others:
    st.markdown("**Change an account**")
    who_col, role_col, act_col = st.columns([2, 2, 2])
    who = who_col.selectbox("Account", others, key="change_who")
    new_role = role_col.selectbox("Role", ROLES, key="change_role")
    with act_col:
        st.write("")
        if st.button("🔁 Set role", key="change_set_role"):
            with core_call():
                set_role(page.db, who, new_role, by=page.username)
                after_write(f"🔁 {who} is now a {new_role}.")
        if st.button("⛔ Disable", key="change_disable"):
            with core_call():
                disable_user(page.db, who, by=page.username)
                after_write(f"⛔ {who} is disabled and can no longer sign in.")

api_access_section(page, [a.username for a in accounts if a.active])
