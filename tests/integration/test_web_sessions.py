"""Dashboard sessions on SQLite and PostgreSQL: a cookie's token signs in only while its row lives,
the account is active and its password unchanged; sign-out ends it everywhere at once."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from core.governance.accounts import add_user, disable_user, set_role
from core.governance.web_sessions import (SESSION_LIFETIME, close_session, close_sessions_of,
                                          open_session, session_account)
from db.models import User, WebSession
from db.types import utcnow

PASSWORD = "correct horse battery"


def _team(db) -> None:
    add_user(db, "ada", "admin", PASSWORD)
    add_user(db, "gus", "governor", PASSWORD, by="ada")


def test_a_session_token_signs_in_its_account_until_it_expires(db):
    _team(db)
    opened = open_session(db, "gus")
    assert session_account(db, opened.token).username == "gus"
    assert opened.expires_at - utcnow() <= SESSION_LIFETIME
    assert session_account(db, opened.token, now=opened.expires_at) is None
    assert session_account(db, opened.token + "x") is None
    assert session_account(db, None) is None and session_account(db, "a" * 10_000) is None


def test_the_database_keeps_only_a_digest_of_the_token(db):
    _team(db)
    opened = open_session(db, "gus")
    with db.reads() as session:
        stored = session.scalars(sa.select(WebSession.token_hash)).all()
    assert len(stored) == 1 and opened.token not in stored[0] and len(stored[0]) == 64


def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(db):
    _team(db)
    opened = open_session(db, "gus")
    other_tab = open_session(db, "gus")
    close_session(db, opened.token)
    assert session_account(db, opened.token) is None
    assert session_account(db, other_tab.token).username == "gus"  # another sign-in stays
    assert close_sessions_of(db, "gus") == 1
    assert session_account(db, other_tab.token) is None


def test_disabling_the_account_ends_its_sessions_and_a_new_role_applies_at_once(db):
    _team(db)
    opened = open_session(db, "gus")
    set_role(db, "gus", "viewer", by="ada")
    assert session_account(db, opened.token).role == "viewer"
    disable_user(db, "gus", by="ada")
    assert session_account(db, opened.token) is None


def test_a_changed_password_ends_the_sessions_opened_with_the_old_one(db):
    _team(db)
    opened = open_session(db, "gus")
    # No password-change service exists yet: the stored hash is replaced as one would do it.
    with db.sessions.begin() as session:
        session.get(User, "gus").password_hash = "$argon2id$v=19$m=65536,t=3,p=4$new$hash"
    assert session_account(db, opened.token) is None


def test_opening_a_session_sweeps_the_expired_ones(db):
    _team(db)
    old = open_session(db, "gus", now=utcnow() - SESSION_LIFETIME - timedelta(minutes=1))
    open_session(db, "ada")
    with db.reads() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(WebSession)) == 1
    assert session_account(db, old.token) is None
