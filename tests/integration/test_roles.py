"""Accounts and roles, through core, on SQLite and PostgreSQL.

A viewer reads; an analyst also proposes and distributes; a governor also reviews; an admin also
changes the policy and the accounts. A refused write leaves every governance table as it was.
Accounts are seeded as single-sign-on ones (an email, no password) where the password does not
matter, so the suite does not pay for an argon2 hash per account.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable

import pytest
import sqlalchemy as sa

from core.allocation.current import get_current_allocation
from core.allocation.validation import ProposalInput
from core.base.errors import NotFound, PermissionDenied, Refused, ValidationFailed
from core.governance.accounts import (add_user, authenticate, count_accounts, disable_user,
                                      get_account, list_users, login_delay_seconds, set_role)
from core.governance.actors import a_role
from core.governance.policy_store import get_policy, set_policy
from core.proposals.distribution import distribute, list_distributions
from core.proposals.lifecycle import (get_allocation_history, get_pending_proposals,
                                      propose_allocation, review_proposal)
from core.record.activity import list_activity
from db.engine import Database
from db.types import utcnow
from tests.integration.state import snapshot

ROLE_OF = {"vic": "viewer", "ann": "analyst", "gus": "governor", "ada": "admin"}
ROLE_ORDER = ("viewer", "analyst", "governor", "admin")
PASSWORD = "correct horse battery"


def sso(db: Database, name: str, role: str, by: str | None = "ada") -> None:
    add_user(db, name, role, None, by=by, email=f"{name}@example.org")


def proposal(reinvestment: Any = 75, dao: Any = 15, lucky: Any = 6, creator: Any = 4,
             **extra: Any) -> ProposalInput:
    return ProposalInput(reinvestment, dao, lucky, creator, extra.pop("reasoning", "Q1 strategy"),
                         **extra)


@pytest.fixture
def team(db: Database) -> Database:
    """ada (admin, the first account), gus (governor), ann and otto (analysts), vic (viewer),
    tess (a viewer the account actions aim at), and a proposal filed by otto."""
    sso(db, "ada", "admin", by=None)
    for name, role in (("gus", "governor"), ("ann", "analyst"), ("otto", "analyst"),
                       ("vic", "viewer"), ("tess", "viewer")):
        sso(db, name, role)
    propose_allocation(db, proposal(), by="otto")
    return db


def _pending_id(db: Database) -> str:
    return get_pending_proposals(db)[0].record.id


def _read(db: Database, by: str) -> None:
    # Reads take no acting account: every role (and none) may read.
    get_current_allocation(db), get_allocation_history(db), get_pending_proposals(db)
    list_activity(db), get_policy(db), list_users(db), list_distributions(db)


def _rebalance(db: Database, by: str) -> None:
    from decimal import Decimal

    from core.platform_data.metrics_model import PlatformMetrics
    from core.rebalancer.service import run_rebalance

    # The seed's launch week: the rule engine suggests 74/15/6/5 and files it.
    launch_week = PlatformMetrics(60.0, 85.0, Decimal("2500"), 0.03, 15, 30)
    assert run_rebalance(db, launch_week, engine="rules", by=by).filed


ACTIONS: dict[str, tuple[str, Callable[[Database, str], Any]]] = {
    "read": ("viewer", _read),
    "propose": ("analyst", lambda db, by: propose_allocation(db, proposal(70, 20, 6, 4), by=by)),
    "rebalance": ("analyst", _rebalance),
    "distribute": ("analyst", lambda db, by: distribute(db, "1000.00", "run-1", by=by)),
    "review": ("governor", lambda db, by: review_proposal(db, _pending_id(db), "approved", by=by)),
    "policy set": ("admin", lambda db, by: set_policy(db, "max_step", "10", by=by)),
    "users add": ("admin", lambda db, by: sso(db, "newbie", "viewer", by=by)),
    "users set-role": ("admin", lambda db, by: set_role(db, "tess", "analyst", by=by)),
    "users disable": ("admin", lambda db, by: disable_user(db, "tess", by=by)),
}


@pytest.mark.parametrize("actor", list(ROLE_OF))
@pytest.mark.parametrize("action", list(ACTIONS))
def test_each_role_may_do_what_its_rank_allows_and_nothing_more(team, action, actor):
    needed, run = ACTIONS[action]
    role = ROLE_OF[actor]
    allowed = ROLE_ORDER.index(role) >= ROLE_ORDER.index(needed)
    before = snapshot(team)
    if allowed:
        run(team, actor)
        if action != "read":
            assert snapshot(team) != before, f"{action} by a {role} wrote nothing"
        else:
            assert snapshot(team) == before
    else:
        with pytest.raises(PermissionDenied) as refusal:
            run(team, actor)
        message = str(refusal.value)
        assert message.startswith("by: ")
        assert f"{actor} is {a_role(role)}" in message and f"needs the {needed} role" in message
        assert snapshot(team) == before, f"a refused {action} wrote something"


WRITES = [name for name in ACTIONS if name != "read"]


@pytest.mark.parametrize("action", WRITES)
def test_an_unknown_account_is_refused_and_nothing_is_written(team, action):
    before = snapshot(team)
    with pytest.raises(PermissionDenied, match="no account named 'mallory'"):
        ACTIONS[action][1](team, "mallory")
    assert snapshot(team) == before


@pytest.mark.parametrize("action", WRITES)
def test_a_disabled_account_is_refused_and_nothing_is_written(team, action):
    sso(team, "gina", "admin")
    disable_user(team, "gina", by="ada")
    before = snapshot(team)
    with pytest.raises(PermissionDenied, match="'gina' is disabled"):
        ACTIONS[action][1](team, "gina")
    assert snapshot(team) == before


@pytest.mark.parametrize("action", WRITES)
def test_once_accounts_exist_a_write_without_an_acting_account_is_refused(team, action):
    before = snapshot(team)
    with pytest.raises(PermissionDenied, match="needs an acting account"):
        ACTIONS[action][1](team, None)  # type: ignore[arg-type]
    assert snapshot(team) == before


def test_the_acting_account_is_found_whatever_the_case_and_spacing_of_its_name(team):
    propose_allocation(team, proposal(70, 20, 6, 4), by="  Ann ")
    newest = get_allocation_history(team, 1)[0]
    assert newest.proposer_username == "ann"
    outcome = review_proposal(team, newest.id, "approved", by="GUS")
    assert outcome.status == "active"
    assert get_current_allocation(team).reviewed_by == "gus"


def test_a_demoted_governor_can_no_longer_review(team):
    set_role(team, "gus", "viewer", by="ada")
    with pytest.raises(PermissionDenied, match="gus is a viewer"):
        review_proposal(team, _pending_id(team), "approved", by="gus")
    set_role(team, "gus", "governor", by="ada")
    assert review_proposal(team, _pending_id(team), "approved", by="gus").status == "active"


# --- open mode ---------------------------------------------------------------------------------

def test_before_the_first_account_any_named_actor_may_do_everything(db):
    assert count_accounts(db) == 0
    filed = propose_allocation(db, proposal(), by="someone")
    set_policy(db, "max_step", "12", by="whoever")
    outcome = review_proposal(db, filed.proposal_id, "approved", by="someone-else")
    distribute(db, "10.00", "k", by="anyone")
    assert outcome.status == "active"
    assert get_current_allocation(db).reviewed_by == "someone-else"
    assert get_policy(db).max_step == 12
    assert [d.key for d in list_distributions(db)] == ["k"]


def test_open_mode_still_keeps_the_four_eyes_rule(db):
    filed = propose_allocation(db, proposal())  # no --by: the open-mode operator
    with pytest.raises(Refused, match="four-eyes"):
        review_proposal(db, filed.proposal_id, "approved", by=None)


def test_the_first_account_must_be_an_admin(db):
    before = snapshot(db)
    for role in ("viewer", "analyst", "governor"):
        with pytest.raises(Refused, match="the first account must be an admin"):
            sso(db, "alice", role, by=None)
    assert snapshot(db) == before
    sso(db, "alice", "admin", by=None)
    assert get_account(db, "alice").role == "admin"
    created = list_activity(db, activity_type="account_created")
    assert [e.metadata["by"] for e in created] == ["operator"]


def test_after_the_first_account_an_unknown_actor_is_refused(db):
    sso(db, "alice", "admin", by="installer")
    before = snapshot(db)
    with pytest.raises(PermissionDenied, match="no account named 'installer'"):
        propose_allocation(db, proposal(), by="installer")
    with pytest.raises(PermissionDenied, match="no account named 'installer'"):
        sso(db, "bob", "admin", by="installer")
    assert snapshot(db) == before


# --- the accounts themselves --------------------------------------------------------------------

def test_adding_an_account_is_logged_with_who_added_it(team):
    sso(team, "nina", "governor")
    entry = list_activity(team, limit=1)[0]
    assert entry.activity_type == "account_created"
    assert entry.metadata == {"username": "nina", "role": "governor", "by": "ada"}


@pytest.mark.parametrize("name, fragment", [
    ("a", "must be 2-64 characters"), ("bad name", "must be 2-64 characters"),
    ("-dash", "must be 2-64 characters"), ("system", "reserved"), ("operator", "reserved"),
])
def test_a_malformed_or_reserved_username_is_refused(team, name, fragment):
    before = snapshot(team)
    with pytest.raises(ValidationFailed, match=fragment):
        sso(team, name, "viewer")
    assert snapshot(team) == before


def test_a_second_account_with_the_same_name_is_refused(team):
    before = snapshot(team)
    with pytest.raises(Refused, match="already exists"):
        add_user(team, "GUS", "viewer", None, by="ada", email="other@example.org")
    assert snapshot(team) == before


def test_an_unknown_role_is_refused(team):
    before = snapshot(team)
    with pytest.raises(ValidationFailed, match="role: 'root' is not one of"):
        sso(team, "nina", "root")
    with pytest.raises(ValidationFailed, match="role: 'root' is not one of"):
        set_role(team, "tess", "root", by="ada")
    assert snapshot(team) == before


def test_changing_the_role_or_disabling_an_unknown_account_is_not_found(team):
    before = snapshot(team)
    with pytest.raises(NotFound, match="no account named 'ghost'"):
        set_role(team, "ghost", "analyst", by="ada")
    with pytest.raises(NotFound, match="no account named 'ghost'"):
        disable_user(team, "ghost", by="ada")
    assert snapshot(team) == before


def test_a_role_change_is_logged_with_the_old_and_the_new_role(team):
    set_role(team, "tess", "governor", by="ada")
    entry = list_activity(team, limit=1)[0]
    assert entry.activity_type == "account_role_changed"
    assert entry.metadata == {"username": "tess", "old_role": "viewer", "new_role": "governor",
                              "by": "ada"}


def test_setting_the_role_an_account_already_has_writes_nothing(team):
    before = snapshot(team)
    assert set_role(team, "tess", "viewer", by="ada").role == "viewer"
    assert snapshot(team) == before


def test_disabling_twice_logs_once(team):
    disable_user(team, "tess", by="ada")
    before = snapshot(team)
    assert disable_user(team, "tess", by="ada").active is False
    assert snapshot(team) == before
    assert len(list_activity(team, activity_type="account_disabled")) == 1


def test_the_last_active_admin_can_be_neither_demoted_nor_disabled(team):
    before = snapshot(team)
    with pytest.raises(Refused, match="ada is the last active admin"):
        set_role(team, "ada", "governor", by="ada")
    with pytest.raises(Refused, match="ada is the last active admin"):
        disable_user(team, "ada", by="ada")
    assert snapshot(team) == before
    sso(team, "abe", "admin")
    disable_user(team, "ada", by="abe")
    assert get_account(team, "ada").active is False
    with pytest.raises(Refused, match="abe is the last active admin"):
        set_role(team, "abe", "viewer", by="abe")


# --- passwords and sign-in ----------------------------------------------------------------------

def _all_text(db: Database) -> str:
    """Everything a reader of the accounts list or the activity log could see, as one string."""
    with db.engine.connect() as conn:
        activity = conn.execute(sa.text("SELECT activity_type, description, metadata "
                                        "FROM protocol_activity")).all()
    return repr([a.as_json() for a in list_users(db)]) + repr(activity)


def test_a_password_is_stored_only_as_an_argon2_hash_and_shown_nowhere(db):
    add_user(db, "alice", "admin", PASSWORD)
    add_user(db, "bob", "governor", "another long secret", by="alice")
    with db.engine.connect() as conn:
        hashes = dict(conn.execute(sa.text("SELECT username, password_hash FROM users")).all())
    assert all(h.startswith("$argon2id$") for h in hashes.values())
    assert PASSWORD not in hashes["alice"]
    seen = _all_text(db)
    for secret in (PASSWORD, "another long secret", *hashes.values(), "$argon2"):
        assert secret not in seen
    assert "password_hash" not in repr(list_users(db)[0].as_json())


def test_a_short_password_is_refused(db):
    with pytest.raises(ValidationFailed, match="password: must be at least 10 characters"):
        add_user(db, "alice", "admin", "short")
    assert count_accounts(db) == 0


def test_an_account_needs_a_password_or_an_email(db):
    with pytest.raises(ValidationFailed, match="password: required"):
        add_user(db, "alice", "admin", None)
    assert count_accounts(db) == 0


def test_sign_in_accepts_the_password_whatever_the_case_of_the_name(db):
    add_user(db, "alice", "admin", PASSWORD)
    assert authenticate(db, "Alice", PASSWORD).username == "alice"


def test_login_delay_is_none_for_three_failures_then_doubles_up_to_thirty_seconds():
    assert [login_delay_seconds(n) for n in range(10)] == [0, 0, 0, 1, 2, 4, 8, 16, 30, 30]


def _failures(db: Database) -> tuple[int, Any]:
    with db.engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT failures, last_failed_at FROM sign_in_failures WHERE username = 'alice'")).first()
    return (0, None) if row is None else tuple(row)


def test_failed_sign_ins_are_counted_and_slow_the_next_attempt_down(db):
    add_user(db, "alice", "admin", PASSWORD)
    start = utcnow()
    for attempt in range(3):
        with pytest.raises(Refused, match="unknown account or wrong password"):
            authenticate(db, "alice", "wrong password", now=start)
    assert _failures(db)[0] == 3
    # Three failures: the next attempt must wait a second, even with the right password, and
    # the refused early attempt is not counted.
    with pytest.raises(Refused, match="too many failed attempts, try again in 1 s"):
        authenticate(db, "alice", PASSWORD, now=start + timedelta(milliseconds=500))
    assert _failures(db)[0] == 3
    with pytest.raises(Refused, match="wrong password"):
        authenticate(db, "alice", "wrong again", now=start + timedelta(seconds=1))
    assert _failures(db)[0] == 4
    with pytest.raises(Refused, match="try again in 2 s"):
        authenticate(db, "alice", PASSWORD, now=start + timedelta(seconds=2))
    account = authenticate(db, "alice", PASSWORD, now=start + timedelta(seconds=3))
    assert account.username == "alice"
    assert _failures(db)[0] == 0


def test_an_unknown_or_disabled_account_cannot_sign_in_and_gets_the_same_answer(db):
    add_user(db, "alice", "admin", PASSWORD)
    add_user(db, "bob", "governor", PASSWORD, by="alice")
    disable_user(db, "bob", by="alice")
    messages = set()
    for name, password in (("nobody", PASSWORD), ("bob", PASSWORD), ("alice", "wrong password")):
        with pytest.raises(Refused) as refusal:
            authenticate(db, name, password)
        messages.add(str(refusal.value))
    assert messages == {"sign-in: unknown account or wrong password"}


def test_an_account_without_a_password_cannot_sign_in_with_one(team):
    with pytest.raises(Refused, match="unknown account or wrong password"):
        authenticate(team, "gus", "")
