"""Invitations and password resets, on SQLite and PostgreSQL: nobody sets another's password."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.base.errors import NotFound, PermissionDenied, Refused, ValidationFailed
from core.governance.accounts import add_user, authenticate, get_account, list_users
from core.governance.actors import count_active_governors
from core.governance.invitations import (INVITATION_LIFETIME, accept_invitation, invite_user,
                                         issue_reset, open_invitations)
from core.governance.web_sessions import open_session, session_account
from core.base.sessions import reading
from db.engine import Database
from db.types import utcnow
from tests.integration.state import every_row

PASSWORD = "the invitee's own passphrase"


@pytest.fixture
def admin(db: Database) -> Database:
    add_user(db, "ada", "admin", "ada's long passphrase")
    return db


def governors(db: Database) -> int:
    with reading(db) as session:
        return count_active_governors(session)


def test_an_invitee_accepts_with_their_own_password_and_signs_in(admin):
    issued = invite_user(admin, "Nia", "governor", by="ada")
    assert issued.username == "nia" and issued.role == "governor"
    assert issued.url == f"/?invite={issued.code}"
    assert issued.expires_at - utcnow() == pytest.approx(INVITATION_LIFETIME, abs=timedelta(minutes=1))
    account = accept_invitation(admin, issued.code, PASSWORD)
    assert (account.username, account.role, account.active) == ("nia", "governor", True)
    assert authenticate(admin, "nia", PASSWORD).role == "governor"


def test_an_unaccepted_invitation_is_no_account_cannot_sign_in_and_is_not_counted(admin):
    before = governors(admin)
    invite_user(admin, "nia", "governor", by="ada")
    assert get_account(admin, "nia") is None
    assert [a.username for a in list_users(admin)] == ["ada"]
    assert governors(admin) == before
    with pytest.raises(Refused, match="unknown account or wrong password"):
        authenticate(admin, "nia", "")
    assert [(i.username, i.role) for i in open_invitations(admin)] == [("nia", "governor")]


def test_a_code_works_once(admin):
    issued = invite_user(admin, "nia", "analyst", by="ada")
    accept_invitation(admin, issued.code, PASSWORD)
    before = every_row(admin)
    with pytest.raises(Refused, match="code: this invitation was already used"):
        accept_invitation(admin, issued.code, "another long passphrase")
    assert every_row(admin) == before
    assert authenticate(admin, "nia", PASSWORD).username == "nia"


def test_an_expired_code_is_refused_and_writes_nothing(admin):
    issued = invite_user(admin, "nia", "analyst", by="ada")
    later = utcnow() + INVITATION_LIFETIME + timedelta(seconds=1)
    before = every_row(admin)
    with pytest.raises(Refused, match="code: this invitation has expired"):
        accept_invitation(admin, issued.code, PASSWORD, now=later)
    assert every_row(admin) == before
    assert get_account(admin, "nia") is None
    # Just before the end it still works.
    almost = utcnow() + INVITATION_LIFETIME - timedelta(seconds=5)
    assert accept_invitation(admin, issued.code, PASSWORD, now=almost).username == "nia"


@pytest.mark.parametrize("code", ["inv_not-a-code", "", "x" * 500, "inv_\x00"])
def test_an_unknown_code_is_refused_without_repeating_it(admin, code):
    invite_user(admin, "nia", "analyst", by="ada")
    before = every_row(admin)
    with pytest.raises(Refused) as refused:
        accept_invitation(admin, code, PASSWORD)
    assert refused.value.problems == ["code: unknown invitation code"]
    assert every_row(admin) == before


def test_a_short_password_is_refused_before_the_code_is_spent(admin):
    issued = invite_user(admin, "nia", "analyst", by="ada")
    with pytest.raises(ValidationFailed, match="password: must be at least 10 characters"):
        accept_invitation(admin, issued.code, "short")
    assert accept_invitation(admin, issued.code, PASSWORD).username == "nia"


def test_a_new_invitation_replaces_the_open_one_of_the_same_name(admin):
    first = invite_user(admin, "nia", "analyst", by="ada")
    second = invite_user(admin, "nia", "governor", by="ada")
    with pytest.raises(Refused, match="replaced by a newer one"):
        accept_invitation(admin, first.code, PASSWORD)
    assert accept_invitation(admin, second.code, PASSWORD).role == "governor"


def test_an_invited_name_is_reserved_and_a_taken_one_cannot_be_invited(admin):
    invite_user(admin, "nia", "analyst", by="ada")
    with pytest.raises(Refused, match="username: 'nia' has an open invitation"):
        add_user(admin, "nia", "viewer", "somebody else's pass", by="ada")
    with pytest.raises(Refused, match="username: an account named 'ada' already exists"):
        invite_user(admin, "ada", "viewer", by="ada")


def test_only_an_admin_invites_and_nothing_is_written_otherwise(admin):
    add_user(admin, "gus", "governor", "gus's long passphrase", by="ada")
    before = every_row(admin)
    with pytest.raises(PermissionDenied, match="by: gus is a governor"):
        invite_user(admin, "nia", "analyst", by="gus")
    with pytest.raises(ValidationFailed, match="role: 'boss' is not one of"):
        invite_user(admin, "nia", "boss", by="ada")
    with pytest.raises(ValidationFailed, match="username: 'system' is reserved"):
        invite_user(admin, "system", "viewer", by="ada")
    assert every_row(admin) == before


def test_the_code_is_stored_only_as_its_digest_and_never_in_the_activity(admin):
    issued = invite_user(admin, "nia", "analyst", by="ada")
    reset = issue_reset(admin, "ada", by="ada")
    dump = repr(every_row(admin))
    for code in (issued.code, reset.code):
        assert code not in dump and code[len("inv_"):] not in dump


def test_a_reset_code_sets_a_new_password_and_ends_every_session(admin):
    add_user(admin, "gus", "governor", "gus's old passphrase", by="ada")
    opened = open_session(admin, "gus")
    reset = issue_reset(admin, "gus", by="ada")
    # The old password works until the code is used.
    assert authenticate(admin, "gus", "gus's old passphrase").username == "gus"
    assert accept_invitation(admin, reset.code, "gus's new passphrase").role == "governor"
    assert session_account(admin, opened.token) is None
    with admin.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM web_sessions WHERE username = 'gus'")) == 0
    with pytest.raises(Refused):
        authenticate(admin, "gus", "gus's old passphrase")
    assert authenticate(admin, "gus", "gus's new passphrase").username == "gus"


def test_a_reset_needs_an_admin_and_an_existing_active_account(admin):
    add_user(admin, "gus", "governor", "gus's old passphrase", by="ada")
    with pytest.raises(PermissionDenied):
        issue_reset(admin, "ada", by="gus")
    with pytest.raises(NotFound, match="username: no account named 'nobody'"):
        issue_reset(admin, "nobody", by="ada")


def test_an_invitation_needs_a_first_admin(db):
    with pytest.raises(Refused, match="create the first admin"):
        invite_user(db, "nia", "admin", by="anyone")
