"""Each split proposal's community vote as the proposals package sees it: opened when the
proposal is filed (the snapshot in force, the quorum and the period fixed then), whether it is
open, whether a binding vote still stands in the way of a major change, and its result once
closed. Kept apart from core/voting/store.py, and free of the signing libraries, because filing
and reviewing a proposal load it: `python -m core propose` must not pay for eth-account.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.allocation.policy import (COMMUNITY_VOTE, LATEST_SNAPSHOT, MAJOR, VOTE_BINDING_MAJOR,
                                    VOTE_OFF, Policy)
from core.allocation.records import VOTE_CLOSED, VOTE_OPENED, VOTES_SO_FAR, TimelineEvent
from core.base.errors import NotFound, Refused
from core.base.formatting import count, exact_percent, money
from core.voting.snapshot_file import units_to_decimal
from db.models import (AllocationLog, ProposalVote, ProposalVoteResult, ProposalVoteTerms,
                       VoteSnapshot)

if TYPE_CHECKING:
    from core.voting.tally import Tally

OPEN, CLOSED = "open", "closed"


def snapshot_in_force(session: so.Session, policy: Policy) -> VoteSnapshot:
    """The snapshot new proposals take: the one the policy names, or the latest loaded."""
    if policy.vote_snapshot != LATEST_SNAPSHOT:
        row = session.get(VoteSnapshot, uuid.UUID(policy.vote_snapshot))
    else:
        row = session.scalar(sa.select(VoteSnapshot)
                             .order_by(VoteSnapshot.created_at.desc(), VoteSnapshot.chain_seq.desc())
                             .limit(1))
    if row is None:
        raise Refused(f"{COMMUNITY_VOTE}: is {policy.community_vote} but no holders snapshot is "
                      "loaded to weigh the vote; load one with `voting snapshot` first")
    return row


# --- a proposal's vote --------------------------------------------------------------------------

def open_vote(session: so.Session, proposal: AllocationLog, policy: Policy,
              now: datetime) -> ProposalVoteTerms | None:
    """Put a split proposal just filed to the community when the policy says so: the snapshot in
    force, the quorum and the period are fixed now. (Governance proposals never come here.)"""
    if policy.community_vote == VOTE_OFF:
        return None
    snapshot = snapshot_in_force(session, policy)
    terms = ProposalVoteTerms(proposal_id=proposal.id, snapshot_id=snapshot.id,
                              mode=policy.community_vote, opens_at=now,
                              closes_at=now + timedelta(hours=policy.vote_period_hours),
                              quorum_pct=policy.vote_quorum_pct)
    session.add(terms)
    session.flush()
    return terms


def proposal_key(proposal_id: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(proposal_id).strip())
    except ValueError:
        raise NotFound(f"proposal: {proposal_id!r} is not a proposal id") from None


def terms_of(session: so.Session, proposal_id: Any) -> ProposalVoteTerms:
    """The vote of a proposal, or NotFound (no such proposal) / Refused (not put to a vote)."""
    key = proposal_key(proposal_id)
    terms = session.get(ProposalVoteTerms, key)
    if terms is not None:
        return terms
    if session.get(AllocationLog, key) is None:
        raise NotFound(f"proposal: no split proposal with id {key} (governance proposals are "
                       "never put to the community vote)")
    raise Refused(f"proposal: {key} is not put to a community vote ({COMMUNITY_VOTE} was "
                  f"{VOTE_OFF} when it was filed)")


def chain_of(session: so.Session, terms: ProposalVoteTerms) -> int:
    """The chain whose token the vote's snapshot counts: the chain id every vote on it signs."""
    chain_id = session.scalar(sa.select(VoteSnapshot.chain_id)
                              .where(VoteSnapshot.id == terms.snapshot_id))
    assert chain_id is not None  # the terms' foreign key, and the column is NOT NULL
    return int(chain_id)


def result_of(session: so.Session, proposal_id: uuid.UUID) -> ProposalVoteResult | None:
    return session.get(ProposalVoteResult, proposal_id)


def due_terms(session: so.Session, now: datetime) -> list[ProposalVoteTerms]:
    """Votes whose time has come and that are not closed yet, the earliest first."""
    return list(session.scalars(
        sa.select(ProposalVoteTerms)
        .outerjoin(ProposalVoteResult,
                   ProposalVoteResult.proposal_id == ProposalVoteTerms.proposal_id)
        .where(ProposalVoteTerms.closes_at <= now, ProposalVoteResult.proposal_id.is_(None))
        .order_by(ProposalVoteTerms.closes_at, ProposalVoteTerms.proposal_id)))


def is_open(terms: ProposalVoteTerms, result: ProposalVoteResult | None, now: datetime) -> bool:
    """Voting is open from filing until `closes_at` (excluded), and never after it was closed."""
    return result is None and terms.opens_at <= now < terms.closes_at


# --- binding votes ------------------------------------------------------------------------------

def binding_vote_waits(session: so.Session, proposal_id: uuid.UUID, tier: str) -> str | None:
    """Why a proposal whose approvals are complete may not take effect yet because of its vote
    (binding_major, a major change, the vote not closed, or closed without passing); None when
    the vote does not stand in the way."""
    terms = session.get(ProposalVoteTerms, proposal_id)
    if terms is None or terms.mode != VOTE_BINDING_MAJOR or tier != MAJOR:
        return None
    result = result_of(session, proposal_id)
    if result is None:
        return (f"a {MAJOR} change under {VOTE_BINDING_MAJOR}: it takes effect only if the "
                f"community vote passes; voting closes at "
                f"{terms.closes_at.isoformat(timespec='seconds')}")
    if not result.passed:
        return "the community vote did not pass"
    return None


def add_result(session: so.Session, terms: ProposalVoteTerms, counted: Tally, outcome: str,
               now: datetime) -> ProposalVoteResult:
    row = ProposalVoteResult(proposal_id=terms.proposal_id, closed_at=now,
                             for_units=Decimal(counted.for_units),
                             against_units=Decimal(counted.against_units),
                             abstain_units=Decimal(counted.abstain_units), voters=counted.voters,
                             quorum_met=counted.quorum_met, passed=counted.passed, outcome=outcome)
    session.add(row)
    session.flush()
    return row


# --- in the proposal's story --------------------------------------------------------------------

def _tokens(units: Any) -> str:
    return money(units_to_decimal(int(units)))


def vote_events(session: so.Session, proposal_id: uuid.UUID) -> list[TimelineEvent]:
    """The community vote's part of a proposal's story, from what opening and closing it
    recorded (its terms and its result): the opening with its snapshot, quorum and close time;
    while no result is recorded, one line counting the votes so far; the close with its tally.
    Nothing for a proposal not put to a vote."""
    terms = session.get(ProposalVoteTerms, proposal_id)
    if terms is None:
        return []
    snapshot = session.get(VoteSnapshot, terms.snapshot_id)
    assert snapshot is not None  # the terms' foreign key
    events = [TimelineEvent(
        terms.opens_at, VOTE_OPENED, None,
        f"community vote ({terms.mode}) opened on snapshot {snapshot.id} (block {snapshot.block} "
        f"of chain {snapshot.chain_id}, total {_tokens(snapshot.total_units)}); quorum "
        f"{exact_percent(Decimal(terms.quorum_pct))} of that total; closes "
        f"{terms.closes_at.isoformat(timespec='seconds')}")]
    result = result_of(session, proposal_id)
    if result is None:
        cast, voters, last = session.execute(
            sa.select(sa.func.count(), sa.func.count(sa.distinct(ProposalVote.address)),
                      sa.func.max(ProposalVote.recorded_at))
            .where(ProposalVote.proposal_id == proposal_id)).one()
        if cast:
            events.append(TimelineEvent(
                last, VOTES_SO_FAR, None,
                f"{count(cast)} votes so far from {count(voters)} addresses (a later vote of an "
                "address replaces its earlier one)"))
        return events
    events.append(TimelineEvent(
        result.closed_at, VOTE_CLOSED, None,
        f"{'passed' if result.passed else 'not passed'}: for {_tokens(result.for_units)}, "
        f"against {_tokens(result.against_units)}, abstain {_tokens(result.abstain_units)}; "
        f"{count(result.voters)} voters; quorum {'met' if result.quorum_met else 'not met'}; "
        f"{result.outcome}"))
    return events
