"""Sealed governance: once sealed, no single admin changes the policy or who governs; those
changes are governance proposals that need other governors' approvals and the major timelock.
On both engines, through core and through the CLI as an insider would try it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.base.errors import PermissionDenied, Refused
from core.governance.accounts import add_user, get_account, set_role
from core.governance.changes import (GovernanceFiling, governance_story, pending_governance,
                                     request_disable, request_policy_change, request_role_change,
                                     request_unseal, review_governance)
from core.governance.policy_store import get_policy, set_policy
from core.governance.sealing import governance_status, seal
from core.proposals.queue import execute_due, veto
from db.types import utcnow
from tests.integration.state import snapshot
from tests.integration.test_cli_contract import cli, ok, refused, split_args


def _url(db) -> str:
    return db.engine.url.render_as_string(hide_password=False)


@pytest.fixture
def sealed(team):
    seal(team, by="ada")
    return team


def test_a_new_install_is_unsealed_and_says_who_governs(team):
    status = governance_status(team)
    assert status.as_json() == {"sealed": False, "governors": 3, "admins": 1,
                                "approvals_required": 1, "approvals_required_major": 2}


def test_sealing_needs_enough_governors_besides_the_admin(db):
    add_user(db, "ada", "admin", None, email="ada@example.org")
    add_user(db, "gus", "governor", None, by="ada", email="gus@example.org")
    before = snapshot(db)
    with pytest.raises(Refused, match="at least 2 active governors or admins besides ada"):
        seal(db, by="ada")
    assert snapshot(db) == before


def test_only_an_admin_seals_and_only_once(team):
    with pytest.raises(PermissionDenied):
        seal(team, by="gus")
    assert seal(team, by="ada").sealed
    with pytest.raises(Refused, match="already sealed"):
        seal(team, by="ada")


def test_sealed_a_policy_change_is_a_proposal_and_changes_nothing_yet(sealed):
    filing = request_policy_change(sealed, "approvals_required", "2", by="ada")
    assert isinstance(filing, GovernanceFiling)
    assert filing.change == {"key": "approvals_required", "from": 1, "to": 2, "value": "2"}
    assert get_policy(sealed).approvals_required == 1
    [pending] = pending_governance(sealed)
    assert (pending.id, pending.status, pending.approvals_required) == (filing.id, "proposed", 2)


def test_sealed_a_direct_policy_write_is_refused(sealed):
    with pytest.raises(Refused, match="governance is sealed"):
        set_policy(sealed, "max_step", "100", by="ada")


def test_an_approved_governance_change_waits_for_the_timelock_then_takes_effect(sealed):
    filing = request_policy_change(sealed, "approvals_required", "2", by="ada")
    now = utcnow()
    assert review_governance(sealed, filing.id, "approved", by="gus", now=now).status == "proposed"
    outcome = review_governance(sealed, filing.id, "approved", by="gail", now=now)
    assert (outcome.status, outcome.executes_at) == ("queued", now + timedelta(hours=24))
    assert execute_due(sealed, now + timedelta(hours=23)).executed == []
    assert get_policy(sealed).approvals_required == 1
    assert execute_due(sealed, now + timedelta(hours=24)).executed == [filing.id]
    assert get_policy(sealed).approvals_required == 2
    events = [e["event"] for e in governance_story(sealed, filing.id).timeline]
    assert events == ["filed", "approved", "approved", "queued", "took effect"]


def test_the_requester_cannot_approve_their_own_governance_change(sealed):
    filing = request_policy_change(sealed, "max_step", "20", by="ada")
    with pytest.raises(PermissionDenied, match="four-eyes"):
        review_governance(sealed, filing.id, "approved", by="ada")


def test_the_account_concerned_cannot_approve_its_own_role_change(sealed):
    filing = request_role_change(sealed, "gus", "admin", by="ada")
    assert isinstance(filing, GovernanceFiling)
    with pytest.raises(PermissionDenied, match="the change is about gus"):
        review_governance(sealed, filing.id, "approved", by="gus")
    assert get_account(sealed, "gus").role == "governor"


def test_sealed_a_role_change_outside_governing_is_direct(sealed):
    account = request_role_change(sealed, "vic", "analyst", by="ada")
    assert account.role == "analyst"


def test_sealed_making_someone_a_governor_is_a_proposal_and_direct_writes_are_refused(sealed):
    assert isinstance(request_role_change(sealed, "ann", "governor", by="ada"), GovernanceFiling)
    with pytest.raises(Refused, match="governance is sealed"):
        set_role(sealed, "ann", "governor", by="ada")
    assert get_account(sealed, "ann").role == "analyst"


def test_sealed_disabling_a_governor_is_a_proposal(sealed):
    now = utcnow()
    filing = request_disable(sealed, "gwen", by="ada")
    assert isinstance(filing, GovernanceFiling)
    review_governance(sealed, filing.id, "approved", by="gus", now=now)
    review_governance(sealed, filing.id, "approved", by="gail", now=now)
    execute_due(sealed, now + timedelta(hours=24))
    assert get_account(sealed, "gwen").active is False


def test_sealed_adding_an_account_is_refused(sealed):
    with pytest.raises(Refused, match="invite them instead"):
        add_user(sealed, "sock", "governor", "a long passphrase", by="ada")


def test_a_governance_change_can_be_vetoed_while_queued(sealed):
    now = utcnow()
    filing = request_policy_change(sealed, "max_step", "100", by="ada")
    review_governance(sealed, filing.id, "approved", by="gus", now=now)
    review_governance(sealed, filing.id, "approved", by="gail", now=now)
    assert veto(sealed, filing.id, by="gwen", reason="a 100-point step is reckless",
                now=now).status == "vetoed"
    assert execute_due(sealed, now + timedelta(days=2)).executed == []
    assert get_policy(sealed).max_step == 15


def test_one_rejection_ends_a_governance_proposal(sealed):
    filing = request_policy_change(sealed, "max_step", "100", by="ada")
    assert review_governance(sealed, filing.id, "rejected", by="gus").status == "rejected"
    with pytest.raises(Refused, match="only proposed ones can be reviewed"):
        review_governance(sealed, filing.id, "approved", by="gail")


def test_a_governor_made_after_the_filing_cannot_approve_a_governance_change(sealed):
    now = utcnow()
    earlier = request_policy_change(sealed, "max_step", "20", by="ada")
    promote = request_role_change(sealed, "ann", "governor", by="ada")
    review_governance(sealed, promote.id, "approved", by="gus", now=now)
    review_governance(sealed, promote.id, "approved", by="gail", now=now)
    execute_due(sealed, now + timedelta(hours=24))
    assert get_account(sealed, "ann").role == "governor"
    with pytest.raises(Refused, match="only the governors of that moment may review it"):
        review_governance(sealed, earlier.id, "approved", by="ann",
                          now=now + timedelta(hours=25))


def test_unsealing_is_itself_a_governance_proposal(sealed):
    now = utcnow()
    filing = request_unseal(sealed, by="ada")
    review_governance(sealed, filing.id, "approved", by="gus", now=now)
    review_governance(sealed, filing.id, "approved", by="gail", now=now)
    assert governance_status(sealed).sealed
    execute_due(sealed, now + timedelta(hours=24))
    assert not governance_status(sealed).sealed
    assert set_policy(sealed, "max_step", "20", by="ada").max_step == 20


def test_the_same_change_cannot_be_filed_twice_while_it_waits(sealed):
    filing = request_policy_change(sealed, "max_step", "20", by="ada")
    with pytest.raises(Refused, match=f"already proposed as governance proposal {filing.id}"):
        request_policy_change(sealed, "max_step", "20", by="ada")


# --- the red team's sequences, through the CLI -------------------------------------------------

ONE_ADMIN_POLICY = [("approvals_required", "1"), ("approvals_required_major", "1"),
                    ("max_step", "100"), ("reinvestment_min", "0"), ("dao_min", "0"),
                    ("lucky_min", "0"), ("creator_min", "0"), ("creator_max", "100")]


def test_one_admin_alone_cannot_move_the_split_once_sealed(sealed):
    url = _url(sealed)
    before = get_policy(sealed)
    filed = 0
    for key, value in ONE_ADMIN_POLICY:
        run = cli(url, "policy", "set", key, value, "--by", "ada", "--json")
        if run.code == 0:  # a change: filed as a governance proposal, nothing changed yet
            assert run.json["status"] == "proposed" and run.json["governance_proposal_id"]
            filed += 1
        else:  # a key already at that value: nothing to change
            assert run.code == 3 and "nothing to change" in run.json["errors"][0]
    assert get_policy(sealed) == before
    problems = refused(url, "users", "add", "sock", "--role", "governor", "--password-stdin",
                       "--by", "ada")
    assert "invite them instead" in problems[0]
    problems = refused(url, "propose", *split_args(0, 0, 0, 100), "--reasoning", "all mine",
                       "--by", "ada")
    assert any("reinvestment" in p for p in problems)
    assert filed == len(ONE_ADMIN_POLICY) - 1  # approvals_required is 1 already
    assert len(ok(url, "governance", "pending")) == filed
    status = ok(url, "governance", "status")
    assert status["sealed"] is True and status["approvals_required_major"] == 2


def test_sock_puppets_cannot_be_made_once_sealed(sealed):
    """The red team's puppet sequence: accounts cannot be added, and a role grant waits for the
    other governors; a governor made later could not decide what was filed before it anyway."""
    url = _url(sealed)
    proposal = ok(url, "propose", *split_args(64, 30, 3, 3), "--reasoning", "all in",
                  "--by", "ada")["proposal_id"]
    for name in ("sock1", "sock2"):
        problems = refused(url, "users", "add", name, "--role", "governor", "--password-stdin",
                           "--by", "ada")
        assert "invite them instead" in problems[0]
    grant = ok(url, "users", "set-role", "ann", "governor", "--by", "ada")
    assert grant["status"] == "proposed" and grant["governance_proposal_id"]
    problems = refused(url, "review", proposal, "--decision", "approved", "--by", "ann")
    assert "governor role" in problems[0]
    story = ok(url, "proposal", "show", proposal)
    assert story["status"] == "proposed" and story["approvals"] == []


def test_the_governance_commands_answer_the_contract(sealed):
    url = _url(sealed)
    filed = ok(url, "policy", "set", "max_step", "20", "--by", "ada")
    assert set(filed) >= {"governance_proposal_id", "status", "change"}
    pid = filed["governance_proposal_id"]
    [item] = ok(url, "governance", "pending")
    assert set(item) >= {"id", "kind", "change", "requested_by", "status", "approvals",
                         "approvals_required", "executes_at"}
    review = ok(url, "governance", "review", pid, "--decision", "approved", "--by", "gus")
    assert set(review) >= {"id", "status", "approvals", "approvals_required", "executes_at"}
    review = ok(url, "governance", "review", pid, "--decision", "approved", "--by", "gail")
    assert review["status"] == "queued" and review["executes_at"]
    vetoed = ok(url, "proposal", "veto", pid, "--by", "gwen", "--reason", "not now")
    assert vetoed == {"proposal_id": pid, "status": "vetoed", "vetoes": 1, "vetoes_required": 1}
    story = ok(url, "governance", "show", pid)
    assert [e["event"] for e in story["timeline"]][-1] == "vetoed"
    assert ok(url, "proposal", "execute-due", "--at", utcnow().isoformat()) == {
        "executed": [], "expired": [], "votes_closed": []}
    assert "unknown" not in refused(url, "governance", "review", pid, "--decision", "approved",
                                    "--by", "gwen")[0]
    assert ok(url, "governance", "unseal", "--by", "ada")["status"] == "proposed"
    problems = refused(url, "governance", "seal", "--by", "ada")
    assert "already sealed" in problems[0]


def test_sealed_an_invited_governor_counts_only_once_the_governors_approve(sealed):
    from core.governance.invitations import accept_invitation, invite_user

    issued = invite_user(sealed, "newgov", "governor", by="ada")
    assert issued.governance_proposal_id and "governance_proposal_id" in issued.as_json()
    account = accept_invitation(sealed, issued.code, "a long passphrase here")
    assert account.role == "viewer"  # not a governor until approved
    now = utcnow()
    review_governance(sealed, issued.governance_proposal_id, "approved", by="gus", now=now)
    review_governance(sealed, issued.governance_proposal_id, "approved", by="gail", now=now)
    assert get_account(sealed, "newgov").role == "viewer"
    execute_due(sealed, now + timedelta(hours=24))
    assert get_account(sealed, "newgov").role == "governor"


def test_sealed_an_invitation_approved_before_it_is_accepted_gives_the_role_at_once(sealed):
    from core.governance.invitations import accept_invitation, invite_user

    issued = invite_user(sealed, "later", "admin", by="ada")
    now = utcnow()
    review_governance(sealed, issued.governance_proposal_id, "approved", by="gus", now=now)
    review_governance(sealed, issued.governance_proposal_id, "approved", by="gail", now=now)
    execute_due(sealed, now + timedelta(hours=24))
    assert accept_invitation(sealed, issued.code, "a long passphrase here").role == "admin"


def test_a_forged_unseal_row_is_not_honoured(sealed):
    import sqlalchemy as sa

    with sealed.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO governance_seals (id, sealed, by, at) "
                             "VALUES (99, :f, 'mallory', :at)"), {"f": False, "at": utcnow()})
    assert governance_status(sealed).sealed
    with pytest.raises(Refused, match="governance is sealed"):
        set_policy(sealed, "max_step", "100", by="ada")
