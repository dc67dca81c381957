"""The timelock queue: an approved change waits here before it takes effect, and governors can
veto it meanwhile (OpenZeppelin's TimelockController: a minimum delay, a canceller's veto).

A split proposal is queued by its last required approval when its tier's timelock
(`timelock_hours`, `timelock_hours_major`) is above 0; a governance proposal always is, for
`timelock_hours_major`. `execute_due` (the `proposal execute-due` command, and `schedule` every
minute) closes the community votes whose time has come (core/proposals/votes.py) and makes what
is due take effect, checked again against the live split, the policy and the
governors of that moment: what no longer holds expires, with the reason. `veto_approvals` vetoes
stop a queued change for good. The queue's rows are insert-only: nobody, raw SQL included, can
move a change forward.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.allocation.policy import Policy
from core.allocation.records import split_of
from core.allocation.split import Split
from core.allocation.validation import proposal_tier
from core.base.errors import NotFound, Refused, ValidationFailed
from core.base.locking import serialize_writes
from core.base.parsing import check_text, shown
from core.base.sessions import reading, writing
from core.governance.actors import resolve_actor
from core.governance.changes import GOVERNANCE, execute_governance, governance_approvers
from core.governance.policy_store import load_policy
from core.governance.second_factor import check_totp
from core.proposals.lifecycle import ALLOCATION, QUEUED, activate, counted_approvals, live_split
from core.proposals.votes import ClosedVote, close_due_votes
from core.record.activity import record_activity
from core.record.audit import honoured
from db.engine import Database
from db.models import AllocationLog, GovernanceProposal, ProposalVeto, TimelockEntry
from db.types import utcnow

VETOED = "vetoed"
VETOING = "vetoing a queued change"  # as refusals name it (the API checks the role first)
TIMELOCK_ACTOR = "system:timelock"  # who makes a due change take effect (its approvers decided)


@dataclass(frozen=True)
class VetoOutcome:
    proposal_id: str
    status: str
    vetoes: int
    vetoes_required: int

    def as_json(self) -> dict[str, Any]:
        return {"proposal_id": self.proposal_id, "status": self.status, "vetoes": self.vetoes,
                "vetoes_required": self.vetoes_required}


@dataclass(frozen=True)
class DueOutcome:
    executed: list[str] = field(default_factory=list)
    expired: list[dict[str, str]] = field(default_factory=list)
    votes_closed: list[ClosedVote] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"executed": self.executed, "expired": self.expired,
                "votes_closed": [v.as_json() for v in self.votes_closed]}


@dataclass(frozen=True)
class QueuedChange:
    """One change in the queue, as the Review page shows it."""

    id: str
    kind: str  # ALLOCATION or GOVERNANCE
    summary: str
    split: Split | None
    queued_at: datetime
    executes_at: datetime
    approvers: list[str]
    vetoes: list[tuple[str, str]]  # (by, reason)
    vetoes_required: int

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "summary": self.summary,
                "split": self.split.as_json() if self.split else None,
                "queued_at": self.queued_at.isoformat(), "executes_at": self.executes_at.isoformat(),
                "approvers": self.approvers,
                "vetoes": [{"by": by, "reason": reason} for by, reason in self.vetoes],
                "vetoes_required": self.vetoes_required}


def _load_queued(session: so.Session, proposal_id: str) -> tuple[str, AllocationLog | GovernanceProposal]:
    try:
        key = uuid.UUID(str(proposal_id).strip())
    except ValueError:
        raise NotFound(f"proposal: {shown(str(proposal_id))} is not a proposal id") from None
    row: AllocationLog | GovernanceProposal | None = session.get(AllocationLog, key,
                                                                 populate_existing=True)
    kind = ALLOCATION
    if row is None:
        row, kind = session.get(GovernanceProposal, key, populate_existing=True), GOVERNANCE
    if row is None:
        raise NotFound(f"proposal: no proposal with id {key}")
    return kind, row


def veto(db: Database, proposal_id: str, *, by: str | None, reason: str | None,
         now: datetime | None = None, totp: str | None = None) -> VetoOutcome:
    """One governor's veto of a queued change, with a reason; `veto_approvals` of them stop it.
    With `require_totp` on, `totp` is the governor's current code."""
    reason = check_text(reason or "", "reason", limit_of="notes").strip()
    if not reason:
        raise ValidationFailed("reason: a veto needs a reason (say why the change must not "
                               "take effect)")
    with writing(db) as session:
        serialize_writes(session)
        actor = resolve_actor(session, by, "governor", VETOING)
        now = now or utcnow()
        check_totp(session, actor.username, totp, action=VETOING, now=now)
        kind, row = _load_queued(session, proposal_id)
        if row.status != QUEUED:
            raise Refused(f"proposal: {row.id} is {row.status}; only queued changes can be "
                          "vetoed")
        if session.scalar(sa.select(ProposalVeto.id).where(
                ProposalVeto.proposal_id == row.id, ProposalVeto.vetoed_by == actor.username)):
            raise Refused(f"by: {actor.username} has already vetoed proposal {row.id}")
        session.add(ProposalVeto(proposal_id=row.id, kind=kind, vetoed_by=actor.username,
                                 reason=reason, vetoed_at=now))
        session.flush()
        vetoers = list(session.scalars(sa.select(ProposalVeto.vetoed_by).where(
            ProposalVeto.proposal_id == row.id).order_by(ProposalVeto.vetoed_at)))
        needed = load_policy(session).veto_approvals
        label = f"proposal {row.id}" if kind == ALLOCATION else f"governance proposal {row.id}"
        meta = {"proposal_id": row.id, "kind": kind, "by": actor.username, "reason": reason,
                "vetoes": vetoers, "vetoes_required": needed}
        if len(vetoers) < needed:
            record_activity(session, f"{kind}_veto_recorded",
                            f"{actor.username} vetoed {label}: {len(vetoers)} of {needed} vetoes "
                            f"({reason})", meta)
            return VetoOutcome(str(row.id), row.status, len(vetoers), needed)
        row.status = VETOED
        notes = f"vetoed by {', '.join(vetoers)}: {reason}"
        if kind == ALLOCATION:
            row.review_notes = notes
        else:
            row.decided_by, row.decided_at, row.decision_notes = actor.username, now, notes
        record_activity(session, f"{kind}_vetoed", f"{label} vetoed by {', '.join(vetoers)}: "
                        f"{reason}", meta)
        return VetoOutcome(str(row.id), VETOED, len(vetoers), needed)


def _execute_allocation(session: so.Session, row: AllocationLog, policy: Policy,
                        now: datetime) -> str | None:
    """Activate a due split proposal, or say why it no longer can (it then expires)."""
    tier = proposal_tier(split_of(row), live_split(session), policy)
    approvals = counted_approvals(session, row)
    problem = None
    if len(approvals) < policy.approvals_for(tier):
        problem = (f"only {len(approvals)} of the {policy.approvals_for(tier)} approvals a "
                   f"{tier} change needs still count (an approver no longer governs)")
    else:
        try:
            with session.begin_nested():
                activate(session, row, policy, row.reviewed_by or TIMELOCK_ACTOR,
                         row.review_notes, now)
        except Refused as refusal:
            problem = "; ".join(refusal.problems)
    if problem is not None:
        row.status = "expired"
        row.review_notes = f"could not take effect when due: {problem}"
        record_activity(session, "allocation_expired",
                        f"queued proposal {row.id} could not take effect: {problem}",
                        {"proposal_id": row.id, "reason": problem, "by": TIMELOCK_ACTOR})
    return problem


def execute_due(db: Database, now: datetime | None = None) -> DueOutcome:
    """Make every queued change whose timelock has ended take effect, oldest first, each checked
    again at this moment; `now` stands for the clock (tests, replays, `--at`)."""
    now = now or utcnow()
    executed: list[str] = []
    expired: list[dict[str, str]] = []
    with writing(db) as session:
        serialize_writes(session)
        # Votes first: a binding result may reject a proposal or let it take effect (at once, or
        # into the queue below).
        closed = close_due_votes(session, load_policy(session), now)
        due = list(session.scalars(sa.select(TimelockEntry).where(TimelockEntry.executes_at <= now)
                                   .order_by(TimelockEntry.executes_at, TimelockEntry.proposal_id)))
        for entry in due:
            # A queue entry written outside the application (raw SQL) moves nothing forward.
            if not honoured(session, entry, "a queued change"):
                continue
            if entry.kind == ALLOCATION:
                row = session.get(AllocationLog, entry.proposal_id, populate_existing=True)
                if row is None or row.status != QUEUED:
                    continue
                problem = _execute_allocation(session, row, load_policy(session), now)
            else:
                grow = session.get(GovernanceProposal, entry.proposal_id, populate_existing=True)
                if grow is None or grow.status != QUEUED or not honoured(
                        session, grow, "a governance change"):
                    continue
                problem = execute_governance(session, grow, TIMELOCK_ACTOR, now)
            if problem is None:
                executed.append(str(entry.proposal_id))
            else:
                expired.append({"id": str(entry.proposal_id), "reason": problem})
    return DueOutcome(executed, expired, closed)


def queued_changes(db: Database) -> list[QueuedChange]:
    """Everything in the queue now, the soonest first."""
    with reading(db) as session:
        policy = load_policy(session)
        entries = session.scalars(sa.select(TimelockEntry).order_by(TimelockEntry.executes_at))
        changes = []
        for entry in entries:
            kind, row = _load_queued(session, str(entry.proposal_id))
            if row.status != QUEUED:
                continue
            vetoes = [(v.vetoed_by, v.reason) for v in session.scalars(
                sa.select(ProposalVeto).where(ProposalVeto.proposal_id == row.id)
                .order_by(ProposalVeto.vetoed_at))]
            if kind == ALLOCATION:
                split = split_of(row)
                summary = f"{split.label()}: {row.reasoning}"
                approvers = counted_approvals(session, row)
            else:
                split, summary = None, row.summary
                approvers = governance_approvers(session, row)
            changes.append(QueuedChange(str(row.id), kind, summary, split, entry.queued_at,
                                        entry.executes_at, approvers, vetoes,
                                        policy.veto_approvals))
        return changes
