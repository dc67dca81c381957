"""Signing in: the first admin behind the setup token, passwords, roles, signing out."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
import sqlalchemy as sa
import streamlit as st

from core.base.errors import Refused
from core.governance.accounts import authenticate, count_accounts, disable_user
from db.models import SignInFailure
from db.types import utcnow
from tests.app.helpers import ROOT, PASSWORD, all_text, button, no_exception, open_page
from ui.setup_token import setup_token

PAGES = ["app.py", "pages/1_Review.py", "pages/2_Propose.py", "pages/3_Rebalancer.py",
         "pages/4_History.py", "pages/5_Performance.py", "pages/6_Distributions.py",
         "pages/7_Activity.py", "pages/8_Admin.py", "pages/9_Outcomes.py",
         "pages/10_Experiments.py"]
TOKEN = "test-setup-token-123"


def _fill_first_admin(at, token: str, password: str = "a long admin password", again: str | None = None):
    at.text_input(key="setup_token").input(token)
    at.text_input(key="setup_username").input("root")
    at.text_input(key="setup_password").input(password)
    at.text_input(key="setup_password_again").input(again if again is not None else password)
    return button(at, "Create admin account").click().run()


def test_first_start_asks_for_the_first_admin_and_refuses_a_wrong_setup_token(empty_db, monkeypatch):
    monkeypatch.setenv("PA_SETUP_TOKEN", TOKEN)
    at = open_page()
    no_exception(at)
    assert "create the first admin" in at.title[0].value
    at = _fill_first_admin(at, "guessed-token")
    no_exception(at)
    assert "token: this is not the setup token the server printed" in all_text(at)
    assert count_accounts(empty_db) == 0


def test_the_right_setup_token_creates_the_admin_and_signs_them_in(empty_db, monkeypatch):
    monkeypatch.setenv("PA_SETUP_TOKEN", TOKEN)
    at = _fill_first_admin(open_page(), TOKEN)
    no_exception(at)
    assert count_accounts(empty_db) == 1
    assert at.session_state["_session_token"]
    assert at.title[0].value == "💰 Profit allocation"
    assert "`root` · admin" in "\n".join(m.value for m in at.sidebar.markdown)


def test_first_admin_errors_appear_next_to_their_inputs_and_create_nothing(empty_db, monkeypatch):
    monkeypatch.setenv("PA_SETUP_TOKEN", TOKEN)
    at = _fill_first_admin(open_page(), TOKEN, password="short", again="short")
    assert "password: must be at least 10 characters" in all_text(at)
    at = _fill_first_admin(at, TOKEN, password="a long admin password", again="another one!!")
    assert "again: the two passwords differ" in all_text(at)
    assert count_accounts(empty_db) == 0


def test_the_server_prints_the_setup_token_when_it_starts_before_any_browser(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'first.db'}"}
    env.pop("PA_SETUP_TOKEN", None)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "ui.serve", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        while "You can now view" not in "".join(lines):
            line = server.stdout.readline()
            assert line, "the server stopped:\n" + "".join(lines)
            lines.append(line)
        printed = "".join(lines)
        assert "one-time setup token" in printed
        assert printed.index("setup token") < printed.index("You can now view")
        assert len(printed.split("setup token:")[1].split()[0]) >= 24
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_clearing_the_caches_does_not_change_the_setup_token(empty_db, monkeypatch):
    # Any browser, signed in or not, can make the server clear its caches (Streamlit's
    # clear_cache message); the operator's token must still work afterwards.
    monkeypatch.delenv("PA_SETUP_TOKEN", raising=False)
    at = open_page()
    token = setup_token()
    st.cache_data.clear()
    st.cache_resource.clear()
    at = at.run()
    assert setup_token() == token
    _fill_first_admin(at, token)
    assert count_accounts(empty_db) == 1


@pytest.mark.parametrize("page", PAGES)
def test_every_page_asks_for_a_sign_in_first(db, page):
    at = open_page(page)
    no_exception(at)
    assert [t.value for t in at.title] == ["🔐 Sign in"]
    assert not at.metric and not at.get("plotly_chart")


def test_signing_in_shows_who_and_which_role_in_the_sidebar_and_signing_out_ends_it(db):
    at = open_page()
    at.text_input(key="signin_username").input("gus")
    at.text_input(key="signin_password").input(PASSWORD)
    at = button(at, "Sign in").click().run()
    no_exception(at)
    sidebar = "\n".join(m.value for m in at.sidebar.markdown)
    assert "`gus` · governor" in sidebar
    at = at.button(key="sign_out").click().run()
    assert [t.value for t in at.title] == ["🔐 Sign in"]
    assert "_session_token" not in at.session_state


def test_a_wrong_password_is_refused_counted_and_then_slowed_down(db):
    at = open_page()
    for _ in range(3):
        at.text_input(key="signin_username").input("gus")
        at.text_input(key="signin_password").input("not the password")
        at = button(at, "Sign in").click().run()
        no_exception(at)
        assert "sign-in: unknown account or wrong password" in all_text(at)
    with db.sessions() as session:
        assert session.scalar(sa.select(SignInFailure.failures).where(
            SignInFailure.username == "gus")) == 3
    # A fourth failure dated an hour ahead: the next attempt is too soon however slow this
    # machine is (a 1 s delay could pass between two AppTest runs).
    with pytest.raises(Refused):
        authenticate(db, "gus", "not the password", now=utcnow() + timedelta(hours=1))
    at.text_input(key="signin_password").input(PASSWORD)  # right password, but too soon
    at = button(at, "Sign in").click().run()
    assert "too many failed attempts" in all_text(at)
    assert "_session_token" not in at.session_state


def test_a_viewer_is_not_offered_the_pages_of_higher_roles(db):
    at = open_page(user="vic")
    links = [link.proto.label for link in at.sidebar.get("page_link")]
    assert links == ["Home", "Review", "Rebalancer", "History", "Performance", "Outcomes",
                     "Experiments", "Distributions", "Activity"]
    at = open_page("pages/2_Propose.py", user="vic")
    no_exception(at)
    assert "This page is for the analyst role" in all_text(at)
    assert not at.number_input


def test_an_admin_sees_every_page_in_the_sidebar(db):
    links = [link.proto.label for link in open_page(user="ada").sidebar.get("page_link")]
    assert len(links) == len(PAGES) and "Propose" in links and "Admin" in links


def test_a_disabled_account_is_signed_out_on_its_next_page(db):
    at = open_page(user="vic")
    disable_user(db, "vic", by="ada")
    at = at.run()
    assert [t.value for t in at.title] == ["🔐 Sign in"]
