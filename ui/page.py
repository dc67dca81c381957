"""The one call at the top of every page: settings, database, sign-in guard, sidebar, notices."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.governance.accounts import Account
from core.governance.actors import ROLE_RANK
from db.engine import Database
from ui.account import account_panel
from ui.auth import keep_cookie, require_account, sign_out
from ui.db import get_db
from ui.demo import demo_banner, ensure_demo_data
from ui.feedback import show_flashes
from ui.governance import unsealed_banner
from ui.second_factor import totp_panel

# (file, label, icon, role needed to see it). The sidebar lists only what the role may open.
PAGES = [
    ("app.py", "Home", "🏠", "viewer"),
    ("pages/1_Review.py", "Review", "🗳️", "viewer"),
    ("pages/2_Propose.py", "Propose", "✍️", "analyst"),
    ("pages/3_Rebalancer.py", "Rebalancer", "🤖", "viewer"),
    ("pages/4_History.py", "History", "📜", "viewer"),
    ("pages/5_Performance.py", "Performance", "📈", "viewer"),
    ("pages/9_Outcomes.py", "Outcomes", "🎯", "viewer"),
    ("pages/10_Experiments.py", "Experiments", "🧪", "viewer"),
    ("pages/6_Distributions.py", "Distributions", "💸", "viewer"),
    ("pages/7_Activity.py", "Activity", "📰", "viewer"),
    ("pages/8_Admin.py", "Admin", "🛠️", "admin"),
]


@dataclass(frozen=True)
class Page:
    db: Database
    account: Account

    @property
    def username(self) -> str:
        return self.account.username

    def can(self, role: str) -> bool:
        return ROLE_RANK[self.account.role] >= ROLE_RANK[role]


def _sidebar(db: Database, account: Account) -> None:
    with st.sidebar:
        for path, label, icon, role in PAGES:
            if ROLE_RANK[account.role] >= ROLE_RANK[role]:
                st.page_link(path, label=label, icon=icon)
        st.divider()
        st.text(f"👤 {account.display_name}")  # user text: never Markdown
        st.markdown(f"`{account.username}` · {account.role}")
        totp_panel(db, account.username, ROLE_RANK[account.role] >= ROLE_RANK["governor"])
        account_panel(db, account)
        if st.button("🚪 Sign out", key="sign_out"):
            sign_out(db)


def setup_page(title: str, icon: str, *, role: str = "viewer") -> Page:
    """Configure the page and make sure someone with at least `role` is signed in."""
    st.set_page_config(page_title=f"{title} · Profit allocation", page_icon=icon, layout="wide",
                       initial_sidebar_state="expanded")
    db = get_db()
    ensure_demo_data(db)
    demo_banner(db)
    account = require_account(db)
    keep_cookie()  # first: a reload or a typed address right after signing in keeps it
    _sidebar(db, account)
    unsealed_banner(db)
    page = Page(db, account)
    if not page.can(role):
        st.title(f"{icon} {title}")
        st.info(f"🔒 This page is for the {role} role and above; you are signed in as a "
                f"{account.role}.")
        st.stop()
    st.title(f"{icon} {title}")
    show_flashes()
    return page
