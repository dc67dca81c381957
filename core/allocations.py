"""The seed's AllocationManager: the current split, proposals, reviews and activation.

Every write is one service owning one transaction; a refusal raises before commit, so nothing
is written. Activations are serialised (`serialize_writes`), so two approvals at the same moment
queue instead of leaving two current rows or a gap in the timeline.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.accounts import Actor, resolve_actor
from core.activity import record_activity
from core.errors import NotFound, PermissionDenied, Refused, ValidationFailed
from core.locking import serialize_writes
from core.policy import Policy
from core.policy_store import load_policy
from core.records import AllocationRecord, CurrentAllocation, PendingProposal, split_of
from core.split import Split
from core.validation import ProposalInput, ValidationResult, step_errors, validate_proposal
from db.engine import Database
from db.models import STATUSES, AllocationLog, ProposalReview
from db.types import utcnow

DECISIONS = ("approved", "rejected")


@dataclass(frozen=True)
class ProposalResult:
    proposal_id: str
    warnings: list[str]
    status: str = "proposed"

    def as_json(self) -> dict[str, Any]:
        return {"proposal_id": self.proposal_id, "warnings": self.warnings, "status": self.status}


@dataclass(frozen=True)
class ReviewOutcome:
    proposal_id: str
    status: str
    approvals: int
    approvals_required: int

    def as_json(self) -> dict[str, Any]:
        return {"proposal_id": self.proposal_id, "status": self.status,
                "approvals": self.approvals, "approvals_required": self.approvals_required}


# --- reads -------------------------------------------------------------------------------------

def current_row(session: so.Session) -> AllocationLog | None:
    return session.scalar(sa.select(AllocationLog).where(
        AllocationLog.status == "active", AllocationLog.effective_until.is_(None)))


def live_split(session: so.Session) -> Split:
    row = current_row(session)
    return CurrentAllocation.of(row).split


def get_current_allocation(db: Database) -> CurrentAllocation:
    """The split in force, or the built-in 80/15/3/2 (source "default") if none is active."""
    with db.reads() as session:
        row = current_row(session)
        return CurrentAllocation.of(row)


def get_allocation_history(db: Database, limit: int | None = None) -> list[AllocationRecord]:
    query = sa.select(AllocationLog).order_by(AllocationLog.timestamp.desc(), AllocationLog.id)
    if limit is not None:
        query = query.limit(limit)
    with db.reads() as session:
        return [AllocationRecord.from_row(r) for r in session.scalars(query)]


def get_proposal(db: Database, proposal_id: str) -> AllocationRecord:
    with db.reads() as session:
        return AllocationRecord.from_row(_load(session, proposal_id))


def _approvals(session: so.Session, proposal_id: uuid.UUID) -> list[str]:
    return list(session.scalars(sa.select(ProposalReview.reviewer).where(
        ProposalReview.proposal_id == proposal_id, ProposalReview.decision == "approved")
        .order_by(ProposalReview.reviewed_at)))


def get_pending_proposals(db: Database, now: datetime | None = None) -> list[PendingProposal]:
    """Proposals waiting for review, newest first; ones past their lifetime are left out."""
    now = now or utcnow()
    with db.reads() as session:
        policy = load_policy(session)
        lifetime = timedelta(hours=policy.proposal_lifetime_hours)
        rows = session.scalars(sa.select(AllocationLog).where(AllocationLog.status == "proposed")
                               .order_by(AllocationLog.timestamp.desc()))
        return [PendingProposal(AllocationRecord.from_row(r), _approvals(session, r.id),
                                policy.approvals_required, r.timestamp + lifetime)
                for r in rows if r.timestamp + lifetime > now]


PENDING = "pending"  # the waiting proposals, as `pending` lists them (unexpired `proposed` rows)


def list_proposals(db: Database, status: str = PENDING) -> list[PendingProposal | AllocationRecord]:
    """Proposals with this status, newest first: `pending` (the default) as `get_pending_proposals`
    gives them, any status of the log as its rows."""
    status = (status or PENDING).strip().lower()
    if status == PENDING:
        return list(get_pending_proposals(db))
    if status not in STATUSES:
        raise ValidationFailed(f"status: {status!r} is not one of {PENDING}, {', '.join(STATUSES)}")
    with db.reads() as session:
        return [AllocationRecord.from_row(r) for r in session.scalars(
            sa.select(AllocationLog).where(AllocationLog.status == status)
            .order_by(AllocationLog.timestamp.desc(), AllocationLog.id))]


def validate_against_live(db: Database, proposal: ProposalInput) -> ValidationResult:
    """Validation as `propose` would apply it now: the policy in force and the live split."""
    with db.reads() as session:
        return validate_proposal(proposal, policy=load_policy(session), live=live_split(session))


# --- proposals ---------------------------------------------------------------------------------

def file_proposal(session: so.Session, proposal: ProposalInput, actor: Actor,
                  policy: Policy) -> tuple[AllocationLog, ValidationResult]:
    """Validate and insert a proposal inside the caller's transaction; raises on any error."""
    current = current_row(session)
    live = CurrentAllocation.of(current).split
    result = validate_proposal(proposal, policy=policy, live=live)
    if not result.valid:
        raise ValidationFailed(*result.errors)
    assert result.split is not None and result.confidence is not None
    row = AllocationLog(
        reinvestment_pct=result.split.reinvestment, dao_pct=result.split.dao,
        lucky_pct=result.split.lucky, creator_pct=result.split.creator, status="proposed",
        reasoning=proposal.reasoning.strip(), confidence=result.confidence,
        input_metrics=proposal.input_metrics, proposed_by=proposal.proposed_by,
        proposer_username=actor.username, based_on_id=current.id if current else None,
        timestamp=utcnow())
    session.add(row)
    session.flush()
    record_activity(session, "allocation_proposed",
                    f"{actor.username} proposed {result.split.label()} ({proposal.proposed_by})",
                    {"proposal_id": row.id, "split": result.split.as_json(),
                     "live_split": live.as_json(), "confidence": float(result.confidence),
                     "proposed_by": proposal.proposed_by, "by": actor.username,
                     "warnings": result.warnings})
    return row, result


def propose_allocation(db: Database, proposal: ProposalInput, *, by: str | None = None) -> ProposalResult:
    with db.sessions.begin() as session:
        actor = resolve_actor(session, by, "analyst", "filing a proposal")
        row, result = file_proposal(session, proposal, actor, load_policy(session))
        return ProposalResult(str(row.id), result.warnings)


# --- reviews -----------------------------------------------------------------------------------

def _load(session: so.Session, proposal_id: str) -> AllocationLog:
    try:
        key = uuid.UUID(str(proposal_id).strip())
    except ValueError:
        raise NotFound(f"proposal: {proposal_id!r} is not a proposal id") from None
    row = session.get(AllocationLog, key, populate_existing=True)
    if row is None:
        raise NotFound(f"proposal: no proposal with id {proposal_id}")
    return row


def _refuse_unreviewable(row: AllocationLog, policy: Policy, now: datetime) -> None:
    if row.status != "proposed":
        raise Refused(f"proposal: {row.id} is {row.status}; only proposed ones can be reviewed")
    expires_at = row.timestamp + timedelta(hours=policy.proposal_lifetime_hours)
    if now >= expires_at:
        raise Refused(f"proposal: {row.id} expired at {expires_at.isoformat(timespec='seconds')} "
                      f"({policy.proposal_lifetime_hours} h lifetime); file a new one")


def _refuse_against_live(session: so.Session, row: AllocationLog, policy: Policy, *,
                         enforce_step: bool = False) -> tuple[AllocationLog | None, Split]:
    """Check `row` again against the policy in force and the live split; returns both.

    One filed against an older split (or any auto-approval, `enforce_step`) must also keep within
    the step limit of the live one.
    """
    current = current_row(session)
    split = split_of(row)
    live = CurrentAllocation.of(current).split
    problems = validate_proposal(
        ProposalInput(split.reinvestment, split.dao, split.lucky, split.creator,
                      reasoning=row.reasoning, confidence=row.confidence,
                      proposed_by=row.proposed_by), policy=policy).errors
    if enforce_step or (current is not None and row.based_on_id != current.id):
        problems += step_errors(split, live, policy.max_step)
    if problems:
        raise Refused(*(f"against the live split {live.label()}: {p}" for p in problems))
    return current, live


def activate(session: so.Session, row: AllocationLog, policy: Policy, reviewer: str,
             notes: str | None, now: datetime, *, enforce_step: bool = False) -> None:
    """Close the live period and open `row`'s at the same instant (no overlap, no gap).

    The proposal is checked again against the policy in force; one filed against an older split
    (or any auto-approval, `enforce_step`) must also keep within the step limit of the live one.
    """
    current, live = _refuse_against_live(session, row, policy, enforce_step=enforce_step)
    split = split_of(row)
    if current is not None:
        now = max(now, current.effective_from or now)
        current.effective_until = now
        session.flush()  # the old period must close before the new one opens (one-current index)
    row.status, row.effective_from = "active", now
    row.reviewed_by, row.reviewed_at, row.review_notes = reviewer, now, notes
    session.flush()
    record_activity(session, "allocation_activated",
                    f"{split.label()} is now active (approved by {reviewer}), replacing "
                    f"{live.label()}",
                    {"allocation_id": row.id, "split": split.as_json(),
                     "previous_allocation_id": current.id if current else None,
                     "previous_split": live.as_json(), "by": reviewer,
                     "delta": {k: float(v) for k, v in split.delta(live).items()}})


def _refuse_review(session: so.Session, row: AllocationLog, actor: Actor, policy: Policy,
                   decision: str, now: datetime) -> None:
    """Every reason this actor may not record this decision now; raises the first that applies."""
    _refuse_unreviewable(row, policy, now)
    if row.proposer_username and row.proposer_username == actor.username:
        # A rule about who may act, not about the proposal's state: PermissionDenied (HTTP 403).
        raise PermissionDenied(f"by: {actor.username} filed this proposal; someone else must "
                               "review it (four-eyes rule)")
    if session.scalar(sa.select(ProposalReview).where(
            ProposalReview.proposal_id == row.id, ProposalReview.reviewer == actor.username)):
        raise Refused(f"by: {actor.username} has already reviewed proposal {row.id}")
    if decision == "approved":
        # Every approval, not only the one that activates, is checked against the live split:
        # an approval recorded for a proposal that can no longer be activated would mislead.
        _refuse_against_live(session, row, policy)


def _reject(session: so.Session, row: AllocationLog, reviewer: str, notes: str | None,
            approvals: list[str], now: datetime) -> None:
    row.status, row.reviewed_by, row.reviewed_at, row.review_notes = "rejected", reviewer, now, notes
    record_activity(session, "allocation_rejected", f"{reviewer} rejected proposal {row.id}",
                    {"proposal_id": row.id, "by": reviewer, "notes": notes, "approvals": approvals})


def _approve(session: so.Session, row: AllocationLog, reviewer: str, notes: str | None,
             approvals: list[str], policy: Policy, now: datetime) -> None:
    """Each approval is its own line in the story, the completing one included:
    proposed -> approval recorded (x M) -> approved -> activated."""
    required = policy.approvals_required
    record_activity(session, "allocation_approval_recorded",
                    f"{reviewer} approved proposal {row.id}: {len(approvals)} of {required} approvals",
                    {"proposal_id": row.id, "by": reviewer, "notes": notes,
                     "approvals": approvals, "approvals_required": required})
    if len(approvals) >= required:
        record_activity(session, "allocation_approved",
                        f"proposal {row.id} approved ({len(approvals)} of {required}: "
                        f"{', '.join(approvals)})",
                        {"proposal_id": row.id, "by": reviewer, "notes": notes,
                         "approvals": approvals})
        activate(session, row, policy, reviewer, notes, now)


def review_proposal(db: Database, proposal_id: str, decision: str, *, by: str | None,
                    notes: str | None = None, now: datetime | None = None) -> ReviewOutcome:
    """Record one governor's decision. A rejection ends the proposal; the approval that reaches
    the policy's required count activates it, in this same transaction."""
    if decision not in DECISIONS:
        raise ValidationFailed(f"decision: {decision!r} is not one of {', '.join(DECISIONS)}")
    notes = notes.strip() if notes and notes.strip() else None
    with db.sessions.begin() as session:
        serialize_writes(session)  # first: the actor's role is read under the lock too
        actor = resolve_actor(session, by, "governor", "reviewing a proposal")
        now = now or utcnow()
        policy = load_policy(session)
        row = _load(session, proposal_id)
        _refuse_review(session, row, actor, policy, decision, now)
        session.add(ProposalReview(proposal_id=row.id, reviewer=actor.username,
                                   decision=decision, notes=notes, reviewed_at=now))
        session.flush()
        approvals = _approvals(session, row.id)
        if decision == "rejected":
            _reject(session, row, actor.username, notes, approvals, now)
        else:
            _approve(session, row, actor.username, notes, approvals, policy, now)
        return ReviewOutcome(str(row.id), row.status, len(approvals), policy.approvals_required)


def expire_stale_proposals(db: Database, now: datetime | None = None) -> list[str]:
    """Mark proposals past their lifetime as expired (they can never be activated)."""
    now = now or utcnow()
    with db.sessions.begin() as session:
        # Serialised with reviews: a proposal approved while it is being expired must end as
        # one or the other, not trip the decided-row trigger.
        serialize_writes(session)
        policy = load_policy(session)
        cutoff = now - timedelta(hours=policy.proposal_lifetime_hours)
        stale = list(session.scalars(sa.select(AllocationLog).where(
            AllocationLog.status == "proposed", AllocationLog.timestamp <= cutoff)))
        for row in stale:
            row.status, row.reviewed_at = "expired", now
            row.review_notes = f"expired after {policy.proposal_lifetime_hours} h without a decision"
            record_activity(session, "allocation_expired", f"proposal {row.id} expired unreviewed",
                            {"proposal_id": row.id, "lifetime_hours": policy.proposal_lifetime_hours})
        return [str(r.id) for r in stale]


def auto_approve_if_allowed(session: so.Session, row: AllocationLog, policy: Policy,
                            now: datetime | None = None) -> str | None:
    """The bounded auto-approval of rebalancer proposals. Returns why it did not apply, or None
    when it activated the proposal."""
    now = now or utcnow()
    if policy.auto_approve_min_confidence is None:
        return "auto-approval is off"
    if row.proposed_by not in ("ai", "system"):
        return "only rebalancer proposals are auto-approved"
    if row.status != "proposed":
        return f"proposal {row.id} is {row.status}, not proposed"
    if now >= row.timestamp + timedelta(hours=policy.proposal_lifetime_hours):
        return f"proposal {row.id} expired"
    if row.confidence < policy.auto_approve_min_confidence:
        return (f"confidence {row.confidence} is under the auto-approval threshold "
                f"{policy.auto_approve_min_confidence}")
    serialize_writes(session)
    # The cooldown runs from the last decided change of the split, by a governor or by this
    # function: the system must not overturn a governor's decision of an hour ago. The seeded
    # default (never reviewed) does not start it.
    last = session.scalar(sa.select(sa.func.max(AllocationLog.effective_from)).where(
        AllocationLog.status == "active", AllocationLog.reviewed_by.is_not(None)))
    cooldown = timedelta(hours=policy.auto_approve_cooldown_hours)
    if last is not None and now < last + cooldown:
        return (f"inside the {policy.auto_approve_cooldown_hours} h cooldown since the last "
                f"activation at {last.isoformat(timespec='seconds')}")
    reason = (f"auto-approved: confidence {row.confidence} >= threshold "
              f"{policy.auto_approve_min_confidence}, inside the bounds and the step limit "
              f"{policy.max_step}, outside the {policy.auto_approve_cooldown_hours} h cooldown")
    try:
        with session.begin_nested():
            # Logged before the activation so the story reads proposed -> auto-approved ->
            # activated; inside the savepoint so a refusal takes it back too.
            record_activity(session, "allocation_auto_approved",
                            f"proposal {row.id} {reason}",
                            {"proposal_id": row.id, "confidence": float(row.confidence),
                             "threshold": float(policy.auto_approve_min_confidence),
                             "reason": reason, "by": "system:auto-approval"})
            activate(session, row, policy, "system:auto-approval", reason, now,
                     enforce_step=True)
    except Refused as refusal:
        return "; ".join(refusal.problems)
    return None

