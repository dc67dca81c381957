"""Closing community votes whose time has come, and what a result does to its proposal
(`execute_due`, so `proposal execute-due` and the schedule, inside their transaction).

* `advisory`: the result is recorded (and shown with the proposal); the governors decide.
* `binding_major` and a major change against the live split at closing: a failed vote (quorum
  not met, or For not above Against) rejects the proposal; a passed one lets it take effect as
  soon as the governors' approvals are complete: at once if they are already (or into the
  timelock queue, as any approved change), else at the last approval.
* A proposal no longer waiting (withdrawn, expired, superseded, rejected by the governors) only
  has its result recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy.orm as so

from core.allocation.policy import MAJOR, VOTE_BINDING_MAJOR, Policy
from core.allocation.records import split_of
from core.allocation.validation import proposal_tier
from core.base.errors import Refused
from core.base.formatting import exact_percent, money
from core.proposals.lifecycle import (PENDING, _reject, carry_out, counted_approvals,
                                      live_split)
from core.record.activity import record_activity
from core.voting import store
from core.voting.snapshot_file import units_to_decimal
from core.voting.tally import Tally
from core.voting.terms import add_result, due_terms
from db.models import AllocationLog, ProposalVoteTerms

COMMUNITY_VOTE_ACTOR = "system:community-vote"  # who rejects a major change its vote failed


@dataclass(frozen=True)
class ClosedVote:
    proposal_id: str
    passed: bool
    outcome: str

    def as_json(self) -> dict[str, Any]:
        return {"proposal_id": self.proposal_id, "passed": self.passed, "outcome": self.outcome}


def _why_failed(counted: Tally) -> str:
    if not counted.quorum_met:
        return (f"quorum not met ({money(units_to_decimal(counted.turnout_units))} of "
                f"{money(counted.quorum)} needed, {exact_percent(counted.quorum_pct)} of the "
                "snapshot)")
    return f"For ({money(counted.for_)}) is not above Against ({money(counted.against)})"


def _apply(session: so.Session, terms: ProposalVoteTerms, counted: Tally, policy: Policy,
           now: datetime) -> str:
    """What the result does to its proposal, carried out; returns it in words."""
    row = session.get(AllocationLog, terms.proposal_id, populate_existing=True)
    assert row is not None  # the terms' foreign key
    if row.status != PENDING:
        return f"recorded: proposal is {row.status}"
    tier = proposal_tier(split_of(row), live_split(session), policy)
    if terms.mode != VOTE_BINDING_MAJOR:
        return f"recorded ({terms.mode}): the governors decide"
    if tier != MAJOR:
        return f"recorded: a {tier} change against the live split, which the governors decide"
    approvals = counted_approvals(session, row)
    if not counted.passed:
        reason = f"the community vote failed: {_why_failed(counted)}"
        _reject(session, row, COMMUNITY_VOTE_ACTOR, reason, approvals, now)
        return f"rejected: {reason}"
    required = policy.approvals_for(tier)
    if len(approvals) < required:
        return (f"passed: takes effect once the governors approve ({len(approvals)} of "
                f"{required} approvals so far)")
    try:
        with session.begin_nested():
            carry_out(session, row, approvals[-1], "the community vote passed", policy, tier,
                      now)
    except Refused as refusal:
        return "passed, but could not take effect: " + "; ".join(refusal.problems)
    return f"passed: proposal is {row.status}"


def close_due_votes(session: so.Session, policy: Policy, now: datetime) -> list[ClosedVote]:
    """Close every vote whose `closes_at` has passed, the earliest first, in the caller's
    transaction (which holds the write lock)."""
    closed = []
    for terms in due_terms(session, now):
        counted = store.tally_of(session, terms)
        outcome = _apply(session, terms, counted, policy, now)
        add_result(session, terms, counted, outcome, now)
        record_activity(session, "vote_closed",
                        f"community vote on proposal {terms.proposal_id} closed: "
                        f"{'passed' if counted.passed else 'not passed'} ({outcome})",
                        {"proposal_id": terms.proposal_id, "snapshot_id": terms.snapshot_id,
                         "mode": terms.mode, **counted.as_json(),
                         "quorum_pct": float(counted.quorum_pct), "outcome": outcome,
                         "by": COMMUNITY_VOTE_ACTOR})
        closed.append(ClosedVote(str(terms.proposal_id), counted.passed, outcome))
    return closed
