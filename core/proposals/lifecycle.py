"""The seed's AllocationManager: the current split, proposals, reviews and activation.

Every write is one service owning one transaction; a refusal raises before commit, so nothing
is written. Activations are serialised (`serialize_writes`), so two approvals at the same moment
queue instead of leaving two current rows or a gap in the timeline.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.allocation.policy import MAJOR, MAX_STEP, MIN_HOURS_BETWEEN_ACTIVATIONS, Policy
from core.allocation.records import (TIMELINE_EVENTS, AllocationRecord, CurrentAllocation,
                                     PendingProposal, ProposalStory, TimelineEvent, split_of)
from core.base.errors import NotFound, PermissionDenied, Refused, ValidationFailed
from core.base.locking import serialize_writes
from core.base.parsing import optional_text, parse_limit, shown
from core.governance.changes import expire_stale_governance
from core.governance.actors import (Actor, active_governors, has_accounts,
                                    refuse_unless_governing_since, resolve_actor)
from core.governance.policy_store import load_policy
from core.governance.seal_state import is_sealed
from core.governance.second_factor import check_totp
from core.record.activity import record_activity
from core.record.audit import honoured
# This service's read of the split in force lives apart so that `current` need not load this.
from core.allocation.current import get_current_allocation, read_current_allocation  # noqa: F401
from core.allocation.split import BUCKETS, DEFAULT_SPLIT, Split, format_pct
from core.voting.terms import binding_vote_waits, open_vote, vote_events
from core.allocation.validation import (ProposalInput, ValidationResult, proposal_tier, step_errors,
                                        validate_proposal)
from core.base.sessions import reading, writing
from db.engine import Database
from db.models import STATUSES, AllocationLog, ProposalReview, TimelockEntry, User
from db.tables import in_force
from db.types import utcnow

DECISIONS = ("approved", "rejected")
PENDING = "proposed"
QUEUED = "queued"
ALLOCATION = "allocation"  # the queue's and the vetoes' kind for split proposals
WITHDRAWN, SUPERSEDED = "withdrawn", "superseded"
AUTO_APPROVER = "system:auto-approval"
# The actions as refusals name them (the API checks the role first, in the same words).
FILING, REVIEWING = "filing a proposal", "reviewing a proposal"
# The labels only the rebalancer's own runs give (core/rebalancer/service.py files through
# `file_proposal`, which takes a session: no entry point reaches it). A person's proposal is
# `manual`, so `ai` and `system` in the log always mean the machine suggested it.
MACHINE_PROPOSERS = ("ai", "system")


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
    tier: str = "minor"
    executes_at: datetime | None = None  # when queued: the end of its timelock

    def as_json(self) -> dict[str, Any]:
        return {"proposal_id": self.proposal_id, "status": self.status,
                "approvals": self.approvals, "approvals_required": self.approvals_required,
                "tier": self.tier,
                "executes_at": self.executes_at.isoformat() if self.executes_at else None}


@dataclass(frozen=True)
class WithdrawOutcome:
    proposal_id: str
    status: str = WITHDRAWN

    def as_json(self) -> dict[str, Any]:
        return {"proposal_id": self.proposal_id, "status": self.status}


# --- reads -------------------------------------------------------------------------------------

def current_row(session: so.Session) -> AllocationLog | None:
    """The current row as an ORM object, for services that change it."""
    return session.scalar(sa.select(AllocationLog).where(*in_force(AllocationLog)))


def live_split(session: so.Session) -> Split:
    return read_current_allocation(session).split


def get_allocation_history(db: Database, limit: Any = None) -> list[AllocationRecord]:
    limit = parse_limit(limit)
    query = sa.select(AllocationLog).order_by(AllocationLog.timestamp.desc(), AllocationLog.id)
    if limit is not None:
        query = query.limit(limit)
    with reading(db) as session:
        return [AllocationRecord.from_row(r) for r in session.scalars(query)]


def get_proposal(db: Database, proposal_id: str) -> AllocationRecord:
    with reading(db) as session:
        return AllocationRecord.from_row(_load(session, proposal_id))


def counted_approvals(session: so.Session, row: AllocationLog) -> list[str]:
    """The approvals that count: those by accounts that are active governors (or admins), as a
    multisig counts only its current owners' signatures; once the governance is sealed, only
    those that governed already when the proposal was filed (Llama's rule: an account made or
    promoted afterwards cannot tip it). Unsealed, the admin is trusted alone anyway (every page
    says so): an admin could make accounts first and file after. In open mode, before any
    account exists, every named operator is trusted.
    A review written outside the application (its chain MAC fails) is no approval, nor is one by
    an account whose role or sign-in fields were (core.record.audit)."""
    query = (sa.select(ProposalReview).where(
        ProposalReview.proposal_id == row.id, ProposalReview.decision == "approved")
        .order_by(ProposalReview.reviewed_at))
    accounts = has_accounts(session)
    if accounts:
        governors = active_governors()
        if is_sealed(session):
            governors = governors.where(User.governing_since <= row.timestamp)
        query = query.where(ProposalReview.reviewer.in_(governors))
    return [review.reviewer for review in session.scalars(query).all()
            if honoured(session, review, "an approval")
            and (not accounts or honoured(session, session.get(User, review.reviewer),
                                          "an approval"))]


def _same_split(split: Split) -> list[sa.ColumnElement[bool]]:
    return [getattr(AllocationLog, f"{b}_pct") == getattr(split, b) for b in BUCKETS]


def get_pending_proposals(db: Database, now: datetime | None = None) -> list[PendingProposal]:
    """Proposals waiting for review, newest first; ones past their lifetime are left out. Each
    carries its tier against the live split and the approvals that tier needs."""
    now = now or utcnow()
    with reading(db) as session:
        policy = load_policy(session)
        live = live_split(session)
        lifetime = timedelta(hours=policy.proposal_lifetime_hours)
        rows = session.scalars(sa.select(AllocationLog).where(AllocationLog.status == PENDING)
                               .order_by(AllocationLog.timestamp.desc()))
        pending = []
        for r in rows:
            if r.timestamp + lifetime <= now:
                continue
            tier = proposal_tier(split_of(r), live, policy)
            pending.append(PendingProposal(AllocationRecord.from_row(r), counted_approvals(session, r),
                                           policy.approvals_for(tier), r.timestamp + lifetime,
                                           tier))
        return pending


def pending_with_split(session: so.Session, split: Split, policy: Policy, now: datetime, *,
                       other_than: uuid.UUID | None = None) -> AllocationLog | None:
    """The newest proposal of exactly this split still waiting for review (not past its
    lifetime: one that can no longer be reviewed does not block filing it again), or queued;
    `other_than` leaves a proposal out (one already filed is no duplicate of itself)."""
    since = now - timedelta(hours=policy.proposal_lifetime_hours)
    query = sa.select(AllocationLog).where(
        sa.or_(sa.and_(AllocationLog.status == PENDING, AllocationLog.timestamp > since),
               AllocationLog.status == QUEUED), *_same_split(split))
    if other_than is not None:
        query = query.where(AllocationLog.id != other_than)
    return session.scalar(query.order_by(AllocationLog.timestamp.desc()).limit(1))


def duplicate_problems(session: so.Session, split: Split, live: Split, policy: Policy,
                       now: datetime, *, other_than: uuid.UUID | None = None) -> list[str]:
    """Why filing `split` now would only repeat what is already there: it is the live split, or
    the same four percentages already wait for review."""
    if split == live:
        return [f"split: {split.label()} is already the live split; there is nothing to change"]
    waiting = pending_with_split(session, split, policy, now, other_than=other_than)
    if waiting is not None:
        if waiting.status == QUEUED:
            return [f"split: {split.label()} is already approved and queued as proposal "
                    f"{waiting.id}; it takes effect when its timelock ends"]
        return [f"split: {split.label()} is already pending as proposal {waiting.id}; review "
                "that one instead of filing it again"]
    return []


WAITING = "pending"  # the waiting proposals, as `pending` lists them (unexpired `proposed` rows)


def list_proposals(db: Database, status: str = WAITING) -> list[PendingProposal | AllocationRecord]:
    """Proposals with this status, newest first: `pending` (the default) as `get_pending_proposals`
    gives them, any status of the log as its rows."""
    status = (status or WAITING).strip().lower()
    if status == WAITING:
        return list(get_pending_proposals(db))
    if status not in STATUSES:
        raise ValidationFailed(f"status: {status!r} is not one of {WAITING}, {', '.join(STATUSES)}")
    with reading(db) as session:
        return [AllocationRecord.from_row(r) for r in session.scalars(
            sa.select(AllocationLog).where(AllocationLog.status == status)
            .order_by(AllocationLog.timestamp.desc(), AllocationLog.id))]


def validate_against_live(db: Database, proposal: ProposalInput, *,
                          filed_as: str | None = None) -> ValidationResult:
    """Validation as `propose` would apply it now: the policy in force, the live split, and no
    duplicate of the live split or of a pending proposal. `filed_as` names the proposal being
    checked when it is already filed (a Review card): it is no duplicate of itself."""
    other_than = uuid.UUID(filed_as) if filed_as else None
    # A filed proposal's label was given when it was filed (the rebalancer's own route, for
    # `ai`/`system`): only a new filing is checked for it.
    labels = [] if filed_as else _label_problems(proposal)
    with reading(db) as session:
        policy, live = load_policy(session), live_split(session)
        result = validate_proposal(proposal, policy=policy, live=live)
        if result.split is None:
            return replace(result, errors=result.errors + labels)
        duplicates = duplicate_problems(session, result.split, live, policy, utcnow(),
                                        other_than=other_than)
        return replace(result, errors=result.errors + duplicates + labels)


def _label_problems(proposal: ProposalInput) -> list[str]:
    if proposal.proposed_by not in MACHINE_PROPOSERS:
        return []
    return [f"proposed_by: {proposal.proposed_by} is the rebalancer's own label, given only by "
            "its runs (`rebalance`, the API's profit-rebalancer, the schedule); a person files "
            "manual proposals"]


def _successor(session: so.Session, row: AllocationLog) -> AllocationLog | None:
    """The active row that opened the instant `row`'s period closed (its replacement)."""
    if row.effective_until is None:
        return None
    # An empty period ([t, t)) opens and closes at t: the replacement is the one closed first.
    return session.scalar(sa.select(AllocationLog).where(
        AllocationLog.status == "active", AllocationLog.id != row.id,
        AllocationLog.effective_from == row.effective_until)
        .order_by(AllocationLog.effective_until.is_(None), AllocationLog.effective_until)
        .limit(1))


def _predecessor(session: so.Session, row: AllocationLog) -> AllocationLog | None:
    """The active row `row` replaced when it was activated."""
    if row.status != "active" or row.effective_from is None:
        return None
    return session.scalar(sa.select(AllocationLog).where(
        AllocationLog.status == "active", AllocationLog.id != row.id,
        AllocationLog.effective_until == row.effective_from)
        .order_by(AllocationLog.effective_from.desc()).limit(1))


def _timeline(session: so.Session, row: AllocationLog) -> tuple[list[TimelineEvent], str | None,
                                                                 str | None]:
    """Every event of `row`'s story from the tables themselves, oldest first; plus the ids of
    the proposal that replaced it and the one that superseded it."""
    events = [TimelineEvent(row.timestamp, "filed", row.proposer_username or row.proposed_by,
                            row.reasoning)]
    for review in session.scalars(sa.select(ProposalReview).where(
            ProposalReview.proposal_id == row.id).order_by(ProposalReview.reviewed_at)):
        events.append(TimelineEvent(review.reviewed_at, review.decision, review.reviewer,
                                    review.notes))
    if row.status == "active" and row.effective_from is not None:
        events.append(TimelineEvent(row.effective_from, "activated", row.reviewed_by,
                                    row.review_notes))
    elif row.status in (WITHDRAWN, "expired", SUPERSEDED) and row.reviewed_at is not None:
        events.append(TimelineEvent(row.reviewed_at, row.status, row.reviewed_by, row.review_notes))
    replaced_by = superseded_by = None
    successor = _successor(session, row)
    if successor is not None and row.effective_until is not None:
        replaced_by = str(successor.id)
        events.append(TimelineEvent(row.effective_until, "replaced", successor.reviewed_by,
                                    f"replaced by {split_of(successor).label()} "
                                    f"(proposal {successor.id})"))
    if row.status == SUPERSEDED and row.reviewed_at is not None:
        winner = session.scalar(sa.select(AllocationLog.id).where(
            AllocationLog.status == "active", AllocationLog.effective_from == row.reviewed_at,
            *_same_split(split_of(row))).limit(1))
        superseded_by = str(winner) if winner else None
    events += vote_events(session, row.id)
    events.sort(key=lambda e: (e.at, TIMELINE_EVENTS.index(e.event)))
    return events, replaced_by, superseded_by


def get_proposal_story(db: Database, proposal_id: str) -> ProposalStory:
    """One proposal with its whole story: status, tier, approvals and the timeline (filed, each
    approval, rejection, withdrawal, expiry, activation, superseding, replacement; and, for one
    put to a community vote, its opening, the count of votes while open and its close)."""
    with reading(db) as session:
        row = _load(session, proposal_id)
        policy = load_policy(session)
        if row.status in (PENDING, QUEUED):
            compared_with = live_split(session)
        elif row.status == "active":
            before = _predecessor(session, row)
            compared_with = split_of(before) if before is not None else split_of(row)
        else:
            based_on = session.get(AllocationLog, row.based_on_id) if row.based_on_id else None
            compared_with = split_of(based_on) if based_on is not None else DEFAULT_SPLIT
        tier = proposal_tier(split_of(row), compared_with, policy)
        events, replaced_by, superseded_by = _timeline(session, row)
        return ProposalStory(
            AllocationRecord.from_row(row), tier, counted_approvals(session, row),
            policy.approvals_for(tier), compared_with,
            row.timestamp + timedelta(hours=policy.proposal_lifetime_hours), events,
            replaced_by, superseded_by)


# --- proposals ---------------------------------------------------------------------------------

def file_proposal(session: so.Session, proposal: ProposalInput, actor: Actor,
                  policy: Policy, now: datetime | None = None
                  ) -> tuple[AllocationLog, ValidationResult]:
    """Validate and insert a proposal inside the caller's transaction; raises on any error,
    including a duplicate of the live split or of a pending proposal."""
    # Serialised, so two identical proposals filed at the same moment cannot both pass the
    # duplicate check.
    serialize_writes(session)
    current = current_row(session)
    live = CurrentAllocation.of(current).split
    result = validate_proposal(proposal, policy=policy, live=live)
    if not result.valid:
        raise ValidationFailed(*result.errors)
    assert result.split is not None and result.confidence is not None
    now = now or utcnow()
    duplicates = duplicate_problems(session, result.split, live, policy, now)
    if duplicates:
        raise Refused(*duplicates)
    row = AllocationLog(
        reinvestment_pct=result.split.reinvestment, dao_pct=result.split.dao,
        lucky_pct=result.split.lucky, creator_pct=result.split.creator, status="proposed",
        reasoning=proposal.reasoning.strip(), confidence=result.confidence,
        input_metrics=proposal.input_metrics, proposed_by=proposal.proposed_by,
        proposer_username=actor.username, based_on_id=current.id if current else None,
        timestamp=now)
    session.add(row)
    session.flush()
    # The community vote (when the policy has one) opens with the filing: the snapshot, quorum
    # and period in force now are the proposal's for good.
    terms = open_vote(session, row, policy, now)
    record_activity(session, "allocation_proposed",
                    f"{actor.username} proposed {result.split.label()} ({proposal.proposed_by})",
                    {"proposal_id": row.id, "split": result.split.as_json(),
                     "live_split": live.as_json(), "tier": result.tier,
                     "confidence": float(result.confidence),
                     "proposed_by": proposal.proposed_by, "by": actor.username,
                     "warnings": result.warnings,
                     **({"vote": {"snapshot_id": terms.snapshot_id, "mode": terms.mode,
                                  "closes_at": terms.closes_at,
                                  "quorum_pct": float(terms.quorum_pct)}} if terms else {})})
    return row, result


def propose_allocation(db: Database, proposal: ProposalInput, *, by: str | None = None,
                       now: datetime | None = None) -> ProposalResult:
    """A person files a proposal (the CLI's `propose`, the API, the Propose page): `manual`;
    the rebalancer's labels are refused, whoever asks."""
    labels = _label_problems(proposal)
    if labels:
        raise PermissionDenied(*labels)
    with writing(db) as session:
        actor = resolve_actor(session, by, "analyst", FILING)
        row, result = file_proposal(session, proposal, actor, load_policy(session), now)
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


def _refuse_unreviewable(row: AllocationLog, policy: Policy, now: datetime,
                         action: str = "reviewed") -> None:
    if row.status != PENDING:
        raise Refused(f"proposal: {row.id} is {row.status}; only proposed ones can be {action}")
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


def last_activation(session: so.Session) -> datetime | None:
    """When the split last changed by a decision (a governor's or the auto-approval's); the
    seeded default, never reviewed, does not count."""
    return session.scalar(sa.select(sa.func.max(AllocationLog.effective_from)).where(
        AllocationLog.status == "active", AllocationLog.reviewed_by.is_not(None)))


def _refuse_too_soon(session: so.Session, policy: Policy, now: datetime) -> None:
    hours = policy.min_hours_between_activations
    last = last_activation(session) if hours else None
    if last is not None and now < last + timedelta(hours=hours):
        possible = last + timedelta(hours=hours)
        raise Refused(f"{MIN_HOURS_BETWEEN_ACTIVATIONS}: the split last changed at "
                      f"{last.isoformat(timespec='seconds')}; the next activation is possible "
                      f"from {possible.isoformat(timespec='seconds')} ({hours} h between "
                      "activations)")


def _supersede_same_split(session: so.Session, row: AllocationLog, reviewer: str,
                          now: datetime) -> list[str]:
    """Every other pending proposal of `row`'s split asks for a change that just happened."""
    split = split_of(row)
    others = list(session.scalars(sa.select(AllocationLog).where(
        AllocationLog.status.in_((PENDING, QUEUED)), AllocationLog.id != row.id,
        *_same_split(split))))
    for other in others:
        if other.status == PENDING:  # a queued one keeps who approved it
            other.reviewed_by, other.reviewed_at = reviewer, now
        other.status = SUPERSEDED
        other.review_notes = (f"superseded: {split.label()} was activated through proposal "
                              f"{row.id}")
        record_activity(session, "allocation_superseded",
                        f"proposal {other.id} superseded: {split.label()} was activated through "
                        f"proposal {row.id}",
                        {"proposal_id": other.id, "superseded_by": row.id,
                         "split": split.as_json(), "by": reviewer})
    return [str(o.id) for o in others]


def activate(session: so.Session, row: AllocationLog, policy: Policy, reviewer: str,
             notes: str | None, now: datetime, *, enforce_step: bool = False) -> None:
    """Close the live period and open `row`'s at the same instant (no overlap, no gap); every
    other pending proposal of the same split is superseded in the same transaction.

    The proposal is checked again against the policy in force; one filed against an older split
    (or any auto-approval, `enforce_step`) must also keep within the step limit of the live one.
    An activation sooner than `min_hours_between_activations` after the last one is refused.
    """
    current, live = _refuse_against_live(session, row, policy, enforce_step=enforce_step)
    _refuse_too_soon(session, policy, now)
    split = split_of(row)
    if current is not None:
        now = max(now, current.effective_from or now)
        current.effective_until = now
        session.flush()  # the old period must close before the new one opens (one-current index)
    if row.status == PENDING:  # a queued row was decided when it was queued
        row.reviewed_by, row.reviewed_at, row.review_notes = reviewer, now, notes
    row.status, row.effective_from = "active", now
    session.flush()
    record_activity(session, "allocation_activated",
                    f"{split.label()} is now active (approved by {reviewer}), replacing "
                    f"{live.label()}",
                    {"allocation_id": row.id, "split": split.as_json(),
                     "previous_allocation_id": current.id if current else None,
                     "previous_split": live.as_json(), "by": reviewer,
                     "tier": proposal_tier(split, live, policy),
                     "delta": {k: float(v) for k, v in split.delta(live).items()}})
    _supersede_same_split(session, row, reviewer, now)


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
    if not actor.open_mode and is_sealed(session):
        refuse_unless_governing_since(session, actor.username, row.timestamp, f"proposal {row.id}")
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
             approvals: list[str], policy: Policy, tier: str, now: datetime) -> None:
    """Each approval is its own line in the story, the completing one included:
    proposed -> approval recorded (x M) -> approved -> activated. M depends on the tier."""
    required = policy.approvals_for(tier)
    record_activity(session, "allocation_approval_recorded",
                    f"{reviewer} approved proposal {row.id}: {len(approvals)} of {required} "
                    f"approvals ({tier} change)",
                    {"proposal_id": row.id, "by": reviewer, "notes": notes,
                     "approvals": approvals, "approvals_required": required, "tier": tier})
    if len(approvals) >= required:
        record_activity(session, "allocation_approved",
                        f"proposal {row.id} approved ({len(approvals)} of {required}: "
                        f"{', '.join(approvals)})",
                        {"proposal_id": row.id, "by": reviewer, "notes": notes,
                         "approvals": approvals})
        waits = binding_vote_waits(session, row.id, tier)
        if waits is not None:
            # It stays proposed; closing the vote (core/proposals/votes.py) carries it out.
            record_activity(session, "allocation_awaiting_vote",
                            f"proposal {row.id} is approved and waits for the community vote: "
                            f"{waits}", {"proposal_id": row.id, "by": reviewer, "reason": waits})
            return
        carry_out(session, row, reviewer, notes, policy, tier, now)


def carry_out(session: so.Session, row: AllocationLog, reviewer: str, notes: str | None,
              policy: Policy, tier: str, now: datetime) -> None:
    """An approved proposal takes effect now, or waits out its tier's timelock in the queue."""
    hours = policy.timelock_for(tier)
    if hours > 0:
        _queue(session, row, reviewer, notes, tier, hours, now)
    else:
        activate(session, row, policy, reviewer, notes, now)


def _queue(session: so.Session, row: AllocationLog, reviewer: str, notes: str | None, tier: str,
           hours: int, now: datetime) -> None:
    """Approved, the change waits `hours` in the queue, where governors can veto it
    (core.proposals.queue); `execute-due` activates it when due, checked again then."""
    entry = TimelockEntry(proposal_id=row.id, kind=ALLOCATION, queued_at=now,
                          executes_at=now + timedelta(hours=hours), delay_hours=hours)
    session.add(entry)
    row.status = QUEUED
    row.reviewed_by, row.reviewed_at, row.review_notes = reviewer, now, notes
    session.flush()
    record_activity(session, "allocation_queued",
                    f"proposal {row.id} ({split_of(row).label()}) is queued: it takes effect at "
                    f"{entry.executes_at.isoformat(timespec='seconds')} unless vetoed "
                    f"({hours} h timelock, {tier} change)",
                    {"proposal_id": row.id, "split": split_of(row).as_json(),
                     "executes_at": entry.executes_at, "timelock_hours": hours, "tier": tier,
                     "by": reviewer})


def review_proposal(db: Database, proposal_id: str, decision: str, *, by: str | None,
                    notes: str | None = None, now: datetime | None = None,
                    totp: str | None = None) -> ReviewOutcome:
    """Record one governor's decision. A rejection ends the proposal; the approval that reaches
    the policy's required count activates it, in this same transaction. With `require_totp` on,
    `totp` is the reviewer's current code (core.governance.second_factor)."""
    if decision not in DECISIONS:
        raise ValidationFailed(f"decision: {shown(decision)} is not one of {', '.join(DECISIONS)}")
    notes = optional_text(notes, "notes")
    notes = notes.strip() if notes and notes.strip() else None
    with writing(db) as session:
        serialize_writes(session)  # first: the actor's role is read under the lock too
        actor = resolve_actor(session, by, "governor", REVIEWING)
        now = now or utcnow()
        check_totp(session, actor.username, totp, action=REVIEWING, now=now)
        policy = load_policy(session)
        row = _load(session, proposal_id)
        _refuse_review(session, row, actor, policy, decision, now)
        session.add(ProposalReview(proposal_id=row.id, reviewer=actor.username,
                                   decision=decision, notes=notes, reviewed_at=now))
        session.flush()
        approvals = counted_approvals(session, row)
        tier = proposal_tier(split_of(row), live_split(session), policy)
        if decision == "rejected":
            _reject(session, row, actor.username, notes, approvals, now)
        else:
            _approve(session, row, actor.username, notes, approvals, policy, tier, now)
        entry = session.get(TimelockEntry, row.id) if row.status == QUEUED else None
        return ReviewOutcome(str(row.id), row.status, len(approvals), policy.approvals_for(tier),
                             tier, entry.executes_at if entry else None)


def withdraw_proposal(db: Database, proposal_id: str, *, by: str | None,
                      notes: str | None = None, now: datetime | None = None) -> WithdrawOutcome:
    """The proposer, or an admin, takes back a proposal still waiting for review."""
    notes = optional_text(notes, "notes")  # the same rules as a review's notes
    notes = notes.strip() if notes and notes.strip() else None
    with writing(db) as session:
        serialize_writes(session)  # a withdrawal and a review of the same proposal queue
        actor = resolve_actor(session, by, "viewer", "withdrawing a proposal")
        now = now or utcnow()
        row = _load(session, proposal_id)
        _refuse_unreviewable(row, load_policy(session), now, "withdrawn")
        if not (actor.username == row.proposer_username or actor.can("admin")):
            raise PermissionDenied(
                f"by: {actor.username} did not file proposal {row.id}; only its proposer "
                f"({row.proposer_username or row.proposed_by}) or an admin may withdraw it")
        row.status, row.reviewed_by, row.reviewed_at, row.review_notes = (
            WITHDRAWN, actor.username, now, notes)
        record_activity(session, "allocation_withdrawn",
                        f"{actor.username} withdrew proposal {row.id} ({split_of(row).label()})",
                        {"proposal_id": row.id, "by": actor.username, "notes": notes,
                         "split": split_of(row).as_json()})
        return WithdrawOutcome(str(row.id))


def expire_stale_proposals(db: Database, now: datetime | None = None) -> list[str]:
    """Mark proposals past their lifetime as expired (they can never be activated)."""
    now = now or utcnow()
    with writing(db) as session:
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
        return [str(r.id) for r in stale] + expire_stale_governance(session, now)


def auto_approve_if_allowed(session: so.Session, row: AllocationLog, policy: Policy,
                            now: datetime | None = None) -> str | None:
    """The bounded auto-approval of rebalancer proposals. Returns why it did not apply, or None
    when it activated the proposal."""
    now = now or utcnow()
    if policy.auto_approve_min_confidence is None:
        return "auto-approval is off"
    if row.proposed_by not in MACHINE_PROPOSERS:
        return "only rebalancer proposals are auto-approved"
    if row.status != PENDING:
        return f"proposal {row.id} is {row.status}, not proposed"
    steps = step_errors(split_of(row), live_split(session), policy.max_step)
    if steps:  # the major tier: more eyes, never the system alone
        return (f"a {MAJOR} change is never auto-approved (more than {MAX_STEP} "
                f"{format_pct(policy.max_step)} against the live split): " + "; ".join(steps))
    if now >= row.timestamp + timedelta(hours=policy.proposal_lifetime_hours):
        return f"proposal {row.id} expired"
    if row.confidence < policy.auto_approve_min_confidence:
        return (f"confidence {row.confidence} is under the auto-approval threshold "
                f"{policy.auto_approve_min_confidence}")
    serialize_writes(session)
    # The cooldown runs from the last decided change of the split, by a governor or by this
    # function: the system must not overturn a governor's decision of an hour ago. The seeded
    # default (never reviewed) does not start it.
    last = last_activation(session)
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
                             "reason": reason, "by": AUTO_APPROVER})
            activate(session, row, policy, AUTO_APPROVER, reason, now,
                     enforce_step=True)
    except Refused as refusal:
        return "; ".join(refusal.problems)
    return None

