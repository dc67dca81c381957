"""`community_vote binding_major`: a major split change takes effect only if its vote passed and
the governors approved; a failed vote rejects it. Closed by execute-due with a simulated clock,
on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from core.allocation.current import get_current_allocation
from core.allocation.split import DEFAULT_SPLIT, Split
from core.base.errors import Refused
from core.governance.policy_store import set_policy
from core.proposals.lifecycle import get_proposal, get_proposal_story, review_proposal
from core.proposals.queue import execute_due
from core.record.activity import list_activity
from core.voting.service import cast_vote, proposal_tally
from db.types import utcnow
from tests.integration.state import file
from tests.integration.voters import BLOCK, later, seconds, sign, voting_on

MAJOR = (64, 30, 3, 3)  # reinvestment -16: more than max_step 15 from 80/15/3/2
MINOR = (75, 15, 6, 4)
PERIOD_HOURS = 72  # the policy's default vote_period_hours


@pytest.fixture
def binding(team, tmp_path):
    voting_on(team, tmp_path, "binding_major")
    return team


def vote(db, proposal, name, support, at):
    return cast_vote(db, proposal, now=at, **sign(proposal, name, support, seconds(at)))


def approve(db, proposal, at, *governors):
    return [review_proposal(db, proposal, "approved", by=g, now=at) for g in governors]


def test_an_approved_major_change_waits_for_its_vote_and_takes_effect_when_the_vote_passes(binding):
    db, now = binding, utcnow()
    proposal = file(db, MAJOR, now=now)
    vote(db, proposal, "alice", "for", later(now, minutes=1))
    outcome = approve(db, proposal, later(now, hours=1), "gus", "gail")[-1]
    assert (outcome.tier, outcome.status) == ("major", "proposed")  # approved, but the vote is open
    assert "allocation_awaiting_vote" in [a.activity_type for a in list_activity(db, limit=5)]
    assert execute_due(db, later(now, hours=PERIOD_HOURS - 1)).votes_closed == []
    closed = execute_due(db, later(now, hours=PERIOD_HOURS))
    assert [(c.proposal_id, c.passed) for c in closed.votes_closed] == [(proposal, True)]
    assert get_proposal(db, proposal).status == "queued"  # then the major timelock, as always
    assert execute_due(db, later(now, hours=PERIOD_HOURS + 24)).executed == [proposal]
    assert get_current_allocation(db).split == Split(*MAJOR)


def test_a_failed_vote_rejects_the_major_change_even_with_every_approval(binding):
    db, now = binding, utcnow()
    proposal = file(db, MAJOR, now=now)
    vote(db, proposal, "alice", "against", later(now, minutes=1))
    vote(db, proposal, "bob", "for", later(now, minutes=2))
    approve(db, proposal, later(now, hours=1), "gus", "gail")
    [closed] = execute_due(db, later(now, hours=PERIOD_HOURS)).votes_closed
    assert closed.passed is False and closed.outcome.startswith("rejected: the community vote failed")
    record = get_proposal(db, proposal)
    assert (record.status, record.reviewed_by) == ("rejected", "system:community-vote")
    assert get_current_allocation(db).split == DEFAULT_SPLIT
    assert execute_due(db, later(now, hours=PERIOD_HOURS + 48)).executed == []


def test_a_vote_below_its_quorum_fails_however_it_splits(binding):
    db, now = binding, utcnow()
    proposal = file(db, MAJOR, now=now)
    vote(db, proposal, "frank", "for", later(now, minutes=1))  # 0.5 of 1,000: under 4%
    [closed] = execute_due(db, later(now, hours=PERIOD_HOURS)).votes_closed
    assert "quorum not met" in closed.outcome
    assert get_proposal(db, proposal).status == "rejected"
    with pytest.raises(Refused, match="is rejected; only proposed ones can be reviewed"):
        approve(db, proposal, later(now, hours=PERIOD_HOURS + 1), "gus")


def test_a_passed_vote_waits_for_the_governors_and_the_last_approval_carries_it_out(binding):
    db, now = binding, utcnow()
    set_policy(db, "timelock_hours_major", "0", by="ada")
    proposal = file(db, MAJOR, now=now)
    vote(db, proposal, "alice", "for", later(now, minutes=1))
    [closed] = execute_due(db, later(now, hours=PERIOD_HOURS)).votes_closed
    assert closed.outcome == "passed: takes effect once the governors approve (0 of 2 approvals so far)"
    assert get_proposal(db, proposal).status == "proposed"
    outcome = approve(db, proposal, later(now, hours=PERIOD_HOURS + 1), "gus", "gail")[-1]
    assert outcome.status == "active"
    assert get_current_allocation(db).split == Split(*MAJOR)


def test_a_minor_change_under_binding_major_is_decided_by_the_governors_alone(binding):
    db, now = binding, utcnow()
    proposal = file(db, MINOR, now=now)
    vote(db, proposal, "alice", "against", later(now, minutes=1))
    assert approve(db, proposal, later(now, hours=1), "gus")[-1].status == "active"
    [closed] = execute_due(db, later(now, hours=PERIOD_HOURS)).votes_closed
    assert closed.passed is False and closed.outcome == "recorded: proposal is active"


def test_a_tie_between_for_and_against_fails(binding):
    db, now = binding, utcnow()
    proposal = file(db, MAJOR, now=now)
    vote(db, proposal, "bob", "for", later(now, minutes=1))  # 300
    vote(db, proposal, "carol", "against", later(now, minutes=2))  # 150 + Dave's 50
    vote(db, proposal, "dave", "for", later(now, minutes=3))  # takes his 50 back: 350 / 150
    vote(db, proposal, "dave", "against", later(now, minutes=4))  # 300 / 200
    vote(db, proposal, "erin", "against", later(now, minutes=5))  # 300 / 299.5
    vote(db, proposal, "frank", "against", later(now, minutes=6))  # 300 / 300
    view = proposal_tally(db, proposal, now=later(now, hours=1))
    assert (view.tally.for_, view.tally.against, view.tally.passed) == (300, 300, False)
    execute_due(db, later(now, hours=PERIOD_HOURS))
    assert get_proposal(db, proposal).status == "rejected"


def test_switching_to_binding_after_filing_does_not_bind_an_advisory_vote(team, tmp_path):
    voting_on(team, tmp_path, "advisory")
    now = utcnow()
    proposal = file(team, MAJOR, now=now)
    set_policy(team, "community_vote", "binding_major", by="ada")
    set_policy(team, "timelock_hours_major", "0", by="ada")
    assert approve(team, proposal, later(now, hours=1), "gus", "gail")[-1].status == "active"


def timeline(db, proposal):
    return [(e.at, e.event, e.notes) for e in get_proposal_story(db, proposal).timeline]


def test_a_voted_proposal_s_story_tells_the_vote_opening_and_closing_with_their_figures(team,
                                                                                       tmp_path):
    snapshot = voting_on(team, tmp_path, "binding_major")
    db, now = team, utcnow()
    proposal = file(db, MAJOR, now=now)
    vote(db, proposal, "alice", "against", later(now, minutes=1))
    vote(db, proposal, "bob", "for", later(now, minutes=2))
    vote(db, proposal, "bob", "against", later(now, minutes=3))  # replaces his For
    closes = later(now, hours=PERIOD_HOURS)
    opened = (now, "vote_opened",
              f"community vote (binding_major) opened on snapshot {snapshot} (block {BLOCK} of "
              f"chain 1, total 1,000); quorum 4% of that total; closes "
              f"{closes.isoformat(timespec='seconds')}")
    # While it is open: one line counts the votes, never a line per vote.
    assert timeline(db, proposal) == [
        (now, "filed", "Q1 strategy"), opened,
        (later(now, minutes=3), "votes",
         "3 votes so far from 2 addresses (a later vote of an address replaces its earlier one)")]
    approve(db, proposal, later(now, hours=1), "gus", "gail")
    execute_due(db, closes)
    assert timeline(db, proposal) == [
        (now, "filed", "Q1 strategy"), opened,
        (later(now, hours=1), "approved", None), (later(now, hours=1), "approved", None),
        (closes, "vote_closed",
         "not passed: for 0, against 700, abstain 0; 2 voters; quorum met; rejected: the "
         "community vote failed: For (0) is not above Against (700)")]


def test_a_proposal_not_put_to_a_vote_keeps_the_story_it_had(team, tmp_path):
    voting_on(team, tmp_path, "off")  # a snapshot loaded, but no vote on filing
    now = utcnow()
    proposal = file(team, MAJOR, now=now)
    vote_free = [(now, "filed", "Q1 strategy"), (later(now, hours=1), "approved", None)]
    review_proposal(team, proposal, "approved", by="gus", now=later(now, hours=1))
    assert timeline(team, proposal) == vote_free

