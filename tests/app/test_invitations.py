"""Invitations on the dashboard: the Admin page invites (never sets a password), a link opens the
form where the invitee chooses theirs; and the second factor's panel and review field."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pyotp
from streamlit.testing.v1 import AppTest

from core.governance.accounts import authenticate, get_account
from core.governance.invitations import invite_user, open_invitations
from core.governance.policy_store import set_policy
from core.governance.second_factor import enroll_totp, has_totp
from core.governance.web_sessions import session_account
from tests.app.helpers import ROOT, TIMEOUT, all_text, button, no_exception, open_page, sign_in_as

ADMIN = "pages/8_Admin.py"
NEW_PASSWORD = "nia's very own passphrase"


def link_page(code: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params["invite"] = code
    return at.run()


def test_the_admin_page_invites_and_shows_the_link_once_and_sets_no_password(plain_db):
    at = open_page(ADMIN, user="ada")
    assert not [t for t in at.text_input if t.key in ("new_password", "new_username")]
    at.text_input(key="invite_username").input("Nia")
    at.selectbox(key="invite_role").set_value("governor")
    at = button(at, "✉️ Invite").click().run()
    no_exception(at)
    link, code = [c.value for c in at.code]
    assert link == f"/?invite={code}" and code.startswith("inv_")
    assert "shown this once" in all_text(at)
    assert get_account(plain_db, "nia") is None  # an account only once accepted
    assert [(i.username, i.role) for i in open_invitations(plain_db)] == [("nia", "governor")]
    invitations = next(d.value for d in at.dataframe if "kind" in d.value.columns)
    assert list(invitations["username"]) == ["nia"]
    assert [c.value for c in at.run().code] == [link, code]  # a rerun keeps it in this tab...
    at = at.button(key="invitation_hide").click().run()
    assert not at.code and not at.run().code  # ...until hidden, and then never again


def test_a_refused_invitation_is_explained_next_to_the_name(plain_db):
    at = open_page(ADMIN, user="ada")
    at.text_input(key="invite_username").input("gus")
    at = button(at, "✉️ Invite").click().run()
    no_exception(at)
    assert "username: an account named 'gus' already exists" in [e.value for e in at.error]
    assert not at.code and open_invitations(plain_db) == []
    assert at.text_input(key="invite_username").value == "gus"  # kept, to be corrected


def test_the_invitation_link_lets_the_invitee_choose_a_password_then_sign_in(plain_db):
    issued = invite_user(plain_db, "nia", "analyst", by="ada")
    at = link_page(issued.code)
    no_exception(at)
    assert [t.value for t in at.title] == ["✉️ Choose your password"]
    at.text_input(key="invite_password").input(NEW_PASSWORD)
    at.text_input(key="invite_password_again").input(NEW_PASSWORD)
    at = button(at, "Set my password").click().run()
    no_exception(at)
    assert "invite" not in at.query_params
    assert [t.value for t in at.title] == ["🔐 Sign in"]
    assert "Your password is set, nia: sign in with it." in all_text(at)
    assert at.text_input(key="signin_username").value == "nia"
    assert authenticate(plain_db, "nia", NEW_PASSWORD).role == "analyst"
    at.text_input(key="signin_password").input(NEW_PASSWORD)
    at = button(at, "Sign in").click().run()
    no_exception(at)
    assert "`nia` · analyst" in "\n".join(m.value for m in at.sidebar.markdown)


def test_the_link_form_refuses_differing_passwords_and_a_spent_code(plain_db):
    issued = invite_user(plain_db, "nia", "analyst", by="ada")
    at = link_page(issued.code)
    at.text_input(key="invite_password").input(NEW_PASSWORD)
    at.text_input(key="invite_password_again").input(NEW_PASSWORD + "!")
    at = button(at, "Set my password").click().run()
    assert "again: the two passwords differ" in [e.value for e in at.error]
    assert get_account(plain_db, "nia") is None
    at.text_input(key="invite_password_again").input(NEW_PASSWORD)
    button(at, "Set my password").click().run()
    again = link_page(issued.code)
    again.text_input(key="invite_password").input("someone else's pass")
    again.text_input(key="invite_password_again").input("someone else's pass")
    again = button(again, "Set my password").click().run()
    no_exception(again)
    assert any("this invitation was already used" in e.value for e in again.error)
    assert authenticate(plain_db, "nia", NEW_PASSWORD).username == "nia"


def test_a_reset_from_the_admin_page_signs_the_owner_out_once_used(plain_db):
    vic = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    token = sign_in_as(vic, "vic")
    at = open_page(ADMIN, user="ada")
    at.selectbox(key="change_who").set_value("vic")
    at = at.button(key="change_reset").click().run()
    assert "gets a single-use reset link" in all_text(at)
    assert open_invitations(plain_db) == []  # not before the confirmation
    at = at.button(key="confirm_reset").click().run()
    no_exception(at)
    _link, code = [c.value for c in at.code]
    assert at.button(key="invitation_hide")
    assert session_account(plain_db, token) is not None
    at = link_page(code)
    at.text_input(key="invite_password").input(NEW_PASSWORD)
    at.text_input(key="invite_password_again").input(NEW_PASSWORD)
    button(at, "Set my password").click().run()
    assert session_account(plain_db, token) is None
    assert [t.value for t in vic.run().title] == ["🔐 Sign in"]


def test_a_governor_sets_up_totp_in_the_sidebar_and_sees_the_qr_code_once(plain_db):
    at = open_page(user="gus")
    at = at.button(key="totp_enroll").click().run()
    no_exception(at)
    assert has_totp(plain_db, "gus")
    [uri] = [c.value for c in at.code]
    assert uri.startswith("otpauth://totp/")
    assert at.get("image")  # the QR code
    at = at.button(key="totp_hide").click().run()
    assert not at.code and not at.get("image")


def test_the_review_dialog_asks_for_a_code_when_totp_is_required(db):
    uri = enroll_totp(db, "gus", by="gus").otpauth_uri
    totp = pyotp.TOTP(parse_qs(urlparse(uri).query)["secret"][0])
    set_policy(db, "require_totp", "on", by="ada")
    at = open_page("pages/1_Review.py", user="gus")
    at = next(b for b in at.button if b.key and b.key.startswith("approve_")).click().run()
    confirm = at.button(key="confirm_approve")
    assert confirm.disabled
    at.text_input(key="approve_totp").input(totp.now())
    at = at.run()
    assert not at.button(key="confirm_approve").disabled
    at = at.button(key="confirm_approve").click().run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
