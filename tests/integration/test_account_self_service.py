"""What an account does for itself, and enabling one again, on SQLite and PostgreSQL, through the
CLI and core: `users password` (ends every other session), `users sign-out-everywhere` (ends
every session, API tokens stay) and `users enable` (sealed, for a governor or an admin: a
governance proposal). Each is recorded with its actor and channel; no password is ever logged."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from core.base.errors import PermissionDenied, Refused
from core.governance.accounts import (add_user, authenticate, disable_user, enable_user,
                                      get_account)
from core.governance.api_tokens import authenticate_token, create_token
from core.governance.changes import GovernanceFiling, request_enable, review_governance
from core.governance.sealing import seal
from core.governance.web_sessions import (change_password, open_session, session_account,
                                          sign_out_everywhere)
from core.proposals.queue import execute_due
from core.record.activity import list_activity
from db.types import utcnow
from tests.integration.state import snapshot
from tests.integration.test_cli_contract import cli, refused

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"


def _url(db) -> str:
    return db.engine.url.render_as_string(hide_password=False)


@pytest.fixture
def people(db):
    """ada (admin), gus (governor) and vic (viewer), each with a password."""
    add_user(db, "ada", "admin", PASSWORD)
    add_user(db, "gus", "governor", PASSWORD, by="ada")
    add_user(db, "vic", "viewer", PASSWORD, by="ada")
    return db


def _activity(db, kind: str) -> list[dict]:
    return [entry.as_json() for entry in list_activity(db, activity_type=kind)]


# --- users password ------------------------------------------------------------------------------

def test_ones_own_new_password_from_stdin_ends_every_dashboard_session_and_keeps_tokens(people):
    laptop, phone = open_session(people, "vic"), open_session(people, "vic")
    others = open_session(people, "gus")
    token = create_token(people, "vic", "scripts", by="ada").token
    run = cli(_url(people), "users", "password", "vic", "--password-stdin", "--by", "vic",
              "--json", stdin=NEW_PASSWORD + "\n")
    assert run.code == 0, run.stderr
    assert run.json == {"username": "vic", "sessions_ended": 2}
    assert NEW_PASSWORD not in run.stdout + run.stderr
    assert session_account(people, laptop.token) is None
    assert session_account(people, phone.token) is None
    assert session_account(people, others.token).username == "gus"  # nobody else's
    assert authenticate_token(people, token).username == "vic"  # API tokens as they were
    assert authenticate(people, "vic", NEW_PASSWORD).username == "vic"
    with pytest.raises(Refused):
        authenticate(people, "vic", PASSWORD)
    [changed] = _activity(people, "password_changed")
    assert changed["metadata"]["by"] == "vic" and changed["metadata"]["via"]["channel"] == "cli"
    assert NEW_PASSWORD not in json.dumps(changed) and "$argon2" not in json.dumps(changed)


def test_a_password_change_keeps_the_asking_session_and_ends_the_others(people):
    here, elsewhere = open_session(people, "gus"), open_session(people, "gus")
    changed = change_password(people, "gus", NEW_PASSWORD, by="gus", current_password=PASSWORD,
                              keep_token=here.token)
    assert changed.sessions_ended == 1
    assert session_account(people, here.token).username == "gus"
    assert session_account(people, elsewhere.token) is None


def test_another_accounts_session_cannot_be_kept_by_naming_its_token(people):
    mine, theirs = open_session(people, "gus"), open_session(people, "vic")
    change_password(people, "gus", NEW_PASSWORD, by="gus", keep_token=theirs.token)
    assert session_account(people, mine.token) is None
    assert session_account(people, theirs.token).username == "vic"  # untouched, not adopted


def test_a_wrong_current_password_is_refused_counted_and_changes_nothing(people):
    session = open_session(people, "gus")
    for _ in range(3):
        with pytest.raises(Refused, match="current_password: this is not your current password"):
            change_password(people, "gus", NEW_PASSWORD, by="gus", current_password="guess",
                            client="10.0.0.9")
    assert session_account(people, session.token).username == "gus"
    # Counted as failed sign-ins from that client: the fourth try must wait, as a sign-in would.
    with pytest.raises(Refused, match="too many failed attempts"):
        change_password(people, "gus", NEW_PASSWORD, by="gus", current_password=PASSWORD,
                        client="10.0.0.9")
    with pytest.raises(Refused, match="too many failed attempts"):
        authenticate(people, "gus", PASSWORD, client="10.0.0.9")
    assert authenticate(people, "gus", PASSWORD, client="10.0.0.1").username == "gus"
    assert _activity(people, "password_changed") == []


@pytest.mark.parametrize("by, fragment", [
    ("ada", "by: ada may not change the password of vic; only the account itself may"),
    ("gus", "by: gus may not change the password of vic; only the account itself may"),
    ("nobody", "by: no account named 'nobody'"),
])
def test_only_the_account_itself_changes_its_password(people, by, fragment):
    before = snapshot(people)
    run = cli(_url(people), "users", "password", "vic", "--password-stdin", "--by", by, "--json",
              stdin=NEW_PASSWORD + "\n")
    assert run.code == 3 and run.json["errors"] == [fragment]
    assert snapshot(people) == before


@pytest.mark.parametrize("password, fragment", [
    ("short", "password: must be at least 10 characters"),
    (" " * 12, "password: must not be only spaces"),
])
def test_a_new_password_breaking_the_rules_is_refused_and_changes_nothing(people, password,
                                                                           fragment):
    session = open_session(people, "vic")
    before = snapshot(people)
    run = cli(_url(people), "users", "password", "vic", "--password-stdin", "--by", "vic",
              "--json", stdin=password + "\n")
    assert run.code == 3 and fragment in run.json["errors"]
    assert snapshot(people) == before
    assert session_account(people, session.token).username == "vic"


# --- users sign-out-everywhere ------------------------------------------------------------------

def test_signing_out_everywhere_ends_every_session_and_leaves_api_tokens(people):
    sessions = [open_session(people, "gus") for _ in range(3)]
    kept = open_session(people, "vic")
    token = create_token(people, "gus", "ci", by="ada").token
    run = cli(_url(people), "users", "sign-out-everywhere", "gus", "--by", "gus", "--json")
    assert run.code == 0, run.stderr
    assert run.json == {"username": "gus", "sessions_ended": 3}
    assert [session_account(people, s.token) for s in sessions] == [None, None, None]
    assert session_account(people, kept.token).username == "vic"
    assert authenticate_token(people, token).username == "gus"
    [ended] = _activity(people, "signed_out_everywhere")
    assert (ended["metadata"]["by"], ended["metadata"]["sessions_ended"],
            ended["metadata"]["via"]["channel"]) == ("gus", 3, "cli")


def test_nobody_signs_another_account_out_everywhere(people):
    session = open_session(people, "vic")
    before = snapshot(people)
    assert "by: ada may not sign out vic; only the account itself may" in refused(
        _url(people), "users", "sign-out-everywhere", "vic", "--by", "ada")
    assert snapshot(people) == before
    assert session_account(people, session.token).username == "vic"
    with pytest.raises(PermissionDenied):
        sign_out_everywhere(people, "vic", by="gus")


# --- users enable --------------------------------------------------------------------------------

def test_an_admin_enables_a_disabled_account_and_its_old_sessions_stay_ended(people):
    stale = open_session(people, "vic")
    disable_user(people, "vic", by="ada")
    run = cli(_url(people), "users", "enable", "VIC", "--by", "ada", "--json")
    assert run.code == 0, run.stderr
    assert run.json == {"username": "vic", "active": True}
    assert get_account(people, "vic").active
    assert session_account(people, stale.token) is None  # a cookie from before stays dead
    assert authenticate(people, "vic", PASSWORD).username == "vic"
    [enabled] = _activity(people, "account_enabled")
    assert (enabled["metadata"]["by"], enabled["metadata"]["via"]["channel"]) == ("ada", "cli")


def test_enabling_an_active_account_changes_and_logs_nothing(people):
    before = snapshot(people)
    assert enable_user(people, "vic", by="ada").active
    assert snapshot(people) == before


def test_only_an_admin_enables_an_account(people):
    disable_user(people, "vic", by="ada")
    before = snapshot(people)
    errors = refused(_url(people), "users", "enable", "vic", "--by", "gus")
    assert any("enabling an account needs the admin role" in e for e in errors)
    assert refused(_url(people), "users", "enable", "ghost", "--by", "ada", code=4) == [
        "username: no account named 'ghost'"]
    assert snapshot(people) == before


def test_an_enabled_governor_governs_again_only_from_now(people):
    disable_user(people, "gus", by="ada")
    enable_user(people, "gus", by="ada")
    with people.reads() as session:
        from db.models import User

        since = session.get(User, "gus").governing_since
    # Counted only for proposals filed after this (the governors of the moment rule).
    assert since is not None and utcnow() - since < timedelta(minutes=5)


def test_sealed_enabling_a_governor_is_a_governance_proposal(team):
    disable_user(team, "gwen", by="ada")
    seal(team, by="ada")
    run = cli(_url(team), "users", "enable", "gwen", "--by", "ada", "--json")
    assert run.code == 0, run.stderr
    filing = run.json
    assert (filing["kind"], filing["status"], filing["change"]) == (
        "enable", "proposed", {"username": "gwen", "role": "governor"})
    assert not get_account(team, "gwen").active  # not yet
    with pytest.raises(Refused, match="governance is sealed"):
        enable_user(team, "gwen", by="ada")  # the dashboard's direct write
    now = utcnow()
    review_governance(team, filing["governance_proposal_id"], "approved", by="gus", now=now)
    review_governance(team, filing["governance_proposal_id"], "approved", by="gail", now=now)
    assert not get_account(team, "gwen").active  # the timelock first
    execute_due(team, now + timedelta(hours=24))
    assert get_account(team, "gwen").active


def test_sealed_enabling_a_viewer_is_direct(team):
    disable_user(team, "vic", by="ada")
    seal(team, by="ada")
    account = request_enable(team, "vic", by="ada")
    assert not isinstance(account, GovernanceFiling) and account.active
