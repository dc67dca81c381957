"""Governance proposals: what a sealed governance changes only with its governors' approval.

Once sealed (core.governance.sealing), a policy change, granting or removing the governor or
admin role, disabling or enabling such an account and unsealing are filed here by an admin and take effect
only after `approvals_required_major` approvals by governors other than the requester and the
account concerned, who governed already when it was filed (Llama's rule), and then the
`timelock_hours_major` delay, during which it can be vetoed (core.proposals.queue). Unsealed,
the same commands act at once, as before. The review, expiry and veto rules are those of split
proposals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.allocation.policy import Policy
from core.base.errors import NotFound, PermissionDenied, Refused, ValidationFailed
from core.base.locking import serialize_writes
from core.base.lookups import get_by_id
from core.base.parsing import optional_text, shown
from core.base.sessions import reading, writing
from core.governance.accounts import (Account, apply_disable, apply_enable, apply_role,
                                      check_role, load_user, touches_governance)
from core.governance.actors import (GOVERNING_ROLES, Actor, a_role, refuse_unless_governing_since,
                                    resolve_actor)
from core.governance.policy_store import (apply_setting, as_text, check_setting_text, load_policy,
                                          proposed_setting)
from core.governance.seal_state import is_sealed, record_seal
from core.governance.second_factor import check_totp
from core.record.activity import record_activity
from core.record.audit import honoured
from db.engine import Database
from db.models import (GOVERNANCE_STATUSES, GovernanceProposal, GovernanceReview, ProposalVeto,
                       TimelockEntry, User)
from db.types import utcnow

DECISIONS = ("approved", "rejected")
PENDING, QUEUED, ACTIVE = "proposed", "queued", "active"
GOVERNANCE = "governance"  # the queue's and the vetoes' kind for these proposals
REVIEWING = "reviewing a governance proposal"  # as refusals name it (the API checks first)


@dataclass(frozen=True)
class GovernanceFiling:
    """What a command that a sealed governance turns into a proposal answers."""

    id: str
    kind: str
    change: dict[str, Any]
    summary: str
    status: str = PENDING

    def as_json(self) -> dict[str, Any]:
        return {"governance_proposal_id": self.id, "status": self.status, "kind": self.kind,
                "change": self.change, "summary": self.summary}


@dataclass(frozen=True)
class GovernanceView:
    id: str
    kind: str
    change: dict[str, Any]
    summary: str
    requested_by: str
    subject: str | None
    status: str
    created_at: datetime
    approvers: list[str]
    approvals_required: int
    executes_at: datetime | None
    vetoes: int = 0
    timeline: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self, *, with_timeline: bool = False) -> dict[str, Any]:
        data = {"id": self.id, "kind": self.kind, "change": self.change, "summary": self.summary,
                "requested_by": self.requested_by, "subject": self.subject,
                "status": self.status, "created_at": self.created_at.isoformat(),
                "approvals": len(self.approvers), "approvers": self.approvers,
                "approvals_required": self.approvals_required,
                "executes_at": self.executes_at.isoformat() if self.executes_at else None,
                "vetoes": self.vetoes}
        if with_timeline:
            data["timeline"] = self.timeline
        return data


@dataclass(frozen=True)
class GovernanceReviewOutcome:
    id: str
    status: str
    approvals: int
    approvals_required: int
    executes_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "approvals": self.approvals,
                "approvals_required": self.approvals_required,
                "executes_at": self.executes_at.isoformat() if self.executes_at else None}


# --- filing ------------------------------------------------------------------------------------

def file_governance_change(session: so.Session, actor: Actor, kind: str, change: dict[str, Any],
                           summary: str, subject: str | None = None) -> GovernanceFiling:
    """File a governance proposal in the caller's transaction (the caller holds the write lock
    and checked that `actor` is an admin)."""
    return _file(session, actor, kind, change, summary, subject)


def invite_approved(session: so.Session, username: str, since: datetime) -> bool:
    """Whether the governors approved (and it took effect) letting the invited `username`
    govern, by a proposal filed at or after `since` (the invitation)."""
    return session.scalar(sa.select(GovernanceProposal.id).where(
        GovernanceProposal.kind == "invite", GovernanceProposal.status == ACTIVE,
        GovernanceProposal.subject == username, GovernanceProposal.created_at >= since)
        .limit(1)) is not None


def _file(session: so.Session, actor: Actor, kind: str, change: dict[str, Any], summary: str,
          subject: str | None = None) -> GovernanceFiling:
    # The summary is made from the change alone: the same summary is the same change.
    already = session.scalar(sa.select(GovernanceProposal).where(
        GovernanceProposal.status.in_((PENDING, QUEUED)), GovernanceProposal.kind == kind,
        GovernanceProposal.summary == summary))
    if already is not None:
        raise Refused(f"change: {summary} is already {already.status} as governance proposal "
                      f"{already.id}; review that one instead of filing it again")
    row = GovernanceProposal(kind=kind, change=change, summary=summary,
                             requested_by=actor.username, subject=subject, created_at=utcnow(),
                             status=PENDING)
    session.add(row)
    session.flush()
    needed = load_policy(session).approvals_required_major
    record_activity(session, "governance_filed",
                    f"{actor.username} asked to {summary} (governance proposal {row.id}: "
                    f"{needed} approvals and the major timelock)",
                    {"governance_proposal_id": row.id, "kind": kind, "change": change,
                     "by": actor.username, "subject": subject, "approvals_required": needed})
    return GovernanceFiling(str(row.id), kind, change, summary)


def request_policy_change(db: Database, key: str, value: str, *,
                          by: str | None) -> Policy | GovernanceFiling:
    """`policy set`: unsealed, the policy changes at once; sealed, a governance proposal."""
    check_setting_text(key, value)
    with writing(db) as session:
        serialize_writes(session)
        actor = resolve_actor(session, by, "admin", "changing the policy")
        if not is_sealed(session):
            return apply_setting(session, key, value, actor.username,
                                 count_governors=not actor.open_mode)
        _, old, new = proposed_setting(session, key, value)  # refused now if it is invalid
        if old == new:
            raise Refused(f"{key}: is already {as_text(old)}; nothing to change")
        change = {"key": key, "from": old, "to": new, "value": value}
        return _file(session, actor, "policy", change,
                     f"set {key} from {as_text(old)} to {as_text(new)}")


def request_role_change(db: Database, username: str, role: str, *,
                        by: str | None) -> Account | GovernanceFiling:
    """`users set-role`: sealed, granting or removing the governor or admin role is a proposal."""
    check_role(role)
    with writing(db) as session:
        serialize_writes(session)
        actor = resolve_actor(session, by, "admin", "changing a role")
        user = load_user(session, username)
        if not (is_sealed(session) and touches_governance(user, role)):
            return apply_role(session, user, role, actor.username)
        change = {"username": user.username, "from": user.role, "to": role}
        return _file(session, actor, "role", change,
                     f"make {user.username} {a_role(role)} (now {a_role(user.role)})",
                     subject=user.username)


def request_disable(db: Database, username: str, *, by: str | None) -> Account | GovernanceFiling:
    """`users disable`: sealed, disabling a governor or an admin is a proposal."""
    with writing(db) as session:
        serialize_writes(session)
        actor = resolve_actor(session, by, "admin", "disabling an account")
        user = load_user(session, username)
        if not (is_sealed(session) and touches_governance(user, disabling=True)):
            return apply_disable(session, user, actor.username)
        change = {"username": user.username, "role": user.role}
        return _file(session, actor, "disable", change,
                     f"disable {user.username} ({a_role(user.role)})", subject=user.username)


def request_enable(db: Database, username: str, *, by: str | None) -> Account | GovernanceFiling:
    """`users enable`: sealed, enabling a governor or an admin again is a proposal (it gives back
    a vote, as granting the role does)."""
    with writing(db) as session:
        serialize_writes(session)
        actor = resolve_actor(session, by, "admin", "enabling an account")
        user = load_user(session, username)
        if not (is_sealed(session) and touches_governance(user, enabling=True)):
            return apply_enable(session, user, actor.username)
        change = {"username": user.username, "role": user.role}
        return _file(session, actor, "enable", change,
                     f"enable {user.username} ({a_role(user.role)})", subject=user.username)


def request_unseal(db: Database, *, by: str | None) -> GovernanceFiling:
    with writing(db) as session:
        serialize_writes(session)
        actor = resolve_actor(session, by, "admin", "unsealing the governance")
        if not is_sealed(session):
            raise Refused("governance: not sealed; there is nothing to unseal")
        return _file(session, actor, "unseal", {"sealed": False},
                     "unseal the governance (policy and roles changed by one admin again)")


# --- reviewing -----------------------------------------------------------------------------------

def load_governance_proposal(session: so.Session, proposal_id: str) -> GovernanceProposal:
    return get_by_id(session, GovernanceProposal, proposal_id, "proposal", "a governance proposal")


def governance_approvers(session: so.Session, row: GovernanceProposal) -> list[str]:
    """The approvals that count: by accounts governing when it was filed and still now, neither
    the requester nor the account concerned; and each review as the application wrote it (its
    chain MAC holds, core.record.audit)."""
    reviews = session.scalars(
        sa.select(GovernanceReview).join(User, User.username == GovernanceReview.reviewer)
        .where(GovernanceReview.proposal_id == row.id, GovernanceReview.decision == "approved",
               User.active.is_(True), User.role.in_(GOVERNING_ROLES),
               User.governing_since <= row.created_at,
               GovernanceReview.reviewer != row.requested_by,
               GovernanceReview.reviewer != sa.func.coalesce(row.subject, ""))
        .order_by(GovernanceReview.reviewed_at)).all()
    return [review.reviewer for review in reviews
            if honoured(session, review, "a governance approval")
            and honoured(session, session.get(User, review.reviewer), "a governance approval")]


def expires_at(row: GovernanceProposal, policy: Policy) -> datetime:
    return row.created_at + timedelta(hours=policy.proposal_lifetime_hours)


def _refuse_review(session: so.Session, row: GovernanceProposal, actor: Actor, policy: Policy,
                   now: datetime) -> None:
    if row.status != PENDING:
        raise Refused(f"proposal: governance proposal {row.id} is {row.status}; only proposed "
                      "ones can be reviewed")
    if now >= expires_at(row, policy):
        raise Refused(f"proposal: governance proposal {row.id} expired at "
                      f"{expires_at(row, policy).isoformat(timespec='seconds')}; file a new one")
    if actor.username == row.requested_by:
        raise PermissionDenied(f"by: {actor.username} asked for this change; other governors "
                               "must review it (four-eyes rule)")
    if actor.username == row.subject:
        raise PermissionDenied(f"by: the change is about {actor.username}; other governors must "
                               "review it")
    refuse_unless_governing_since(session, actor.username, row.created_at,
                                  f"governance proposal {row.id}")
    if session.scalar(sa.select(GovernanceReview.id).where(
            GovernanceReview.proposal_id == row.id, GovernanceReview.reviewer == actor.username)):
        raise Refused(f"by: {actor.username} has already reviewed governance proposal {row.id}")


def review_governance(db: Database, proposal_id: str, decision: str, *, by: str | None,
                      notes: str | None = None, now: datetime | None = None,
                      totp: str | None = None) -> GovernanceReviewOutcome:
    """One governor's decision. A rejection ends the proposal; the last required approval queues
    it for the major timelock (or, with that at 0, makes the change at once). With
    `require_totp` on, `totp` is the governor's current code."""
    if decision not in DECISIONS:
        raise ValidationFailed(f"decision: {shown(decision)} is not one of {', '.join(DECISIONS)}")
    notes = optional_text(notes, "notes")
    notes = notes.strip() if notes and notes.strip() else None
    with writing(db) as session:
        serialize_writes(session)
        actor = resolve_actor(session, by, "governor", REVIEWING)
        now = now or utcnow()
        check_totp(session, actor.username, totp, action=REVIEWING, now=now)
        policy = load_policy(session)
        row = load_governance_proposal(session, proposal_id)
        _refuse_review(session, row, actor, policy, now)
        session.add(GovernanceReview(proposal_id=row.id, reviewer=actor.username,
                                     decision=decision, notes=notes, reviewed_at=now))
        session.flush()
        approvers = governance_approvers(session, row)
        required = policy.approvals_required_major
        entry = None
        record_activity(session, "governance_reviewed",
                        f"{actor.username} {decision} governance proposal {row.id} ({row.summary}):"
                        f" {len(approvers)} of {required} approvals",
                        {"governance_proposal_id": row.id, "by": actor.username,
                         "decision": decision, "notes": notes, "approvals": approvers,
                         "approvals_required": required})
        if decision == "rejected":
            row.status, row.decided_by, row.decided_at = "rejected", actor.username, now
            row.decision_notes = notes
        elif len(approvers) >= required:
            entry = _queue_or_execute(session, row, policy, actor.username, now)
        return GovernanceReviewOutcome(str(row.id), row.status, len(approvers), required,
                                       entry.executes_at if entry else None)


def _queue_or_execute(session: so.Session, row: GovernanceProposal, policy: Policy, by: str,
                      now: datetime) -> TimelockEntry | None:
    hours = policy.timelock_hours_major
    if hours <= 0:
        execute_governance(session, row, by, now)
        return None
    entry = TimelockEntry(proposal_id=row.id, kind=GOVERNANCE, queued_at=now,
                          executes_at=now + timedelta(hours=hours), delay_hours=hours)
    session.add(entry)
    row.status = QUEUED
    session.flush()
    record_activity(session, "governance_queued",
                    f"governance proposal {row.id} ({row.summary}) approved; it takes effect at "
                    f"{entry.executes_at.isoformat(timespec='seconds')} unless vetoed",
                    {"governance_proposal_id": row.id, "executes_at": entry.executes_at,
                     "timelock_hours": hours, "by": by})
    return entry


# --- taking effect ------------------------------------------------------------------------------

def execute_governance(session: so.Session, row: GovernanceProposal, by: str,
                       now: datetime) -> str | None:
    """Make the change, checked again against the governance of this moment: the approvals must
    still count and the change must still be valid. Returns why it could not (the proposal is then
    expired, with that reason), or None once it took effect. The caller holds the write lock."""
    policy = load_policy(session)
    approvers = governance_approvers(session, row)
    problem = None
    if len(approvers) < policy.approvals_required_major:
        problem = (f"only {len(approvers)} of the {policy.approvals_required_major} approvals "
                   "still count (an approver no longer governs)")
    else:
        try:
            with session.begin_nested():
                _apply(session, row, now)
        except (Refused, ValidationFailed, NotFound) as refusal:
            problem = "; ".join(refusal.problems)
    if problem is not None:
        row.status, row.decided_by, row.decided_at = "expired", by, now
        row.decision_notes = f"could not take effect: {problem}"
        record_activity(session, "governance_expired",
                        f"governance proposal {row.id} ({row.summary}) could not take effect: "
                        f"{problem}", {"governance_proposal_id": row.id, "reason": problem})
        return problem
    row.status, row.decided_by, row.decided_at = ACTIVE, by, now
    record_activity(session, "governance_activated",
                    f"governance proposal {row.id} took effect: {row.summary} (approved by "
                    f"{', '.join(approvers)})",
                    {"governance_proposal_id": row.id, "kind": row.kind, "change": row.change,
                     "approvals": approvers, "requested_by": row.requested_by})
    return None


def _apply(session: so.Session, row: GovernanceProposal, now: datetime) -> None:
    change = row.change
    by = row.requested_by
    if row.kind == "policy":
        apply_setting(session, change["key"], change["value"], by)
    elif row.kind == "role":
        apply_role(session, load_user(session, change["username"]), change["to"], by)
    elif row.kind == "disable":
        apply_disable(session, load_user(session, change["username"]), by)
    elif row.kind == "enable":
        apply_enable(session, load_user(session, change["username"]), by)
    elif row.kind == "invite":
        # Accepted already: the account (a viewer until now) gets its role. Not yet: accepting
        # the invitation later gives the role at once (core.governance.invitations).
        user = session.get(User, change["username"])
        if user is not None:
            apply_role(session, user, change["role"], by)
    elif row.kind == "unseal":
        record_seal(session, False, by, row.id)
        record_activity(session, "governance_unsealed",
                        f"the governance is unsealed (governance proposal {row.id})",
                        {"governance_proposal_id": row.id, "by": by})
    else:
        raise Refused(f"kind: {row.kind} changes are not made by this version")


def expire_stale_governance(session: so.Session, now: datetime) -> list[str]:
    """Proposed governance changes past the proposal lifetime expire (the caller holds the lock)."""
    policy = load_policy(session)
    cutoff = now - timedelta(hours=policy.proposal_lifetime_hours)
    stale = list(session.scalars(sa.select(GovernanceProposal).where(
        GovernanceProposal.status == PENDING, GovernanceProposal.created_at <= cutoff)))
    for row in stale:
        row.status, row.decided_at = "expired", now
        row.decision_notes = f"expired after {policy.proposal_lifetime_hours} h without a decision"
        record_activity(session, "governance_expired",
                        f"governance proposal {row.id} ({row.summary}) expired unreviewed",
                        {"governance_proposal_id": row.id,
                         "lifetime_hours": policy.proposal_lifetime_hours})
    return [str(r.id) for r in stale]


# --- reads ---------------------------------------------------------------------------------------

def _view(session: so.Session, row: GovernanceProposal, policy: Policy, *,
          with_timeline: bool = False) -> GovernanceView:
    entry = session.get(TimelockEntry, row.id)
    vetoes = list(session.scalars(sa.select(ProposalVeto).where(ProposalVeto.proposal_id == row.id)
                                  .order_by(ProposalVeto.vetoed_at)))
    timeline: list[dict[str, Any]] = []
    if with_timeline:
        timeline.append({"at": row.created_at.isoformat(), "event": "filed",
                         "by": row.requested_by, "notes": row.summary})
        for review in session.scalars(sa.select(GovernanceReview).where(
                GovernanceReview.proposal_id == row.id).order_by(GovernanceReview.reviewed_at)):
            timeline.append({"at": review.reviewed_at.isoformat(), "event": review.decision,
                             "by": review.reviewer, "notes": review.notes})
        if entry is not None:
            timeline.append({"at": entry.queued_at.isoformat(), "event": "queued", "by": None,
                             "notes": f"takes effect at {entry.executes_at.isoformat()}"})
        timeline.extend({"at": v.vetoed_at.isoformat(), "event": "vetoed", "by": v.vetoed_by,
                         "notes": v.reason} for v in vetoes)
        if row.status in (ACTIVE, "expired", "vetoed") and row.decided_at is not None:
            timeline.append({"at": row.decided_at.isoformat(),
                             "event": "took effect" if row.status == ACTIVE else row.status,
                             "by": row.decided_by, "notes": row.decision_notes})
        timeline.sort(key=lambda event: event["at"])
    return GovernanceView(str(row.id), row.kind, row.change, row.summary, row.requested_by,
                          row.subject, row.status, row.created_at,
                          governance_approvers(session, row), policy.approvals_required_major,
                          entry.executes_at if entry else None, len(vetoes), timeline)


def pending_governance(db: Database, now: datetime | None = None) -> list[GovernanceView]:
    """Governance proposals waiting for review or in the queue, newest first (expired ones left
    out)."""
    now = now or utcnow()
    with reading(db) as session:
        policy = load_policy(session)
        rows = session.scalars(sa.select(GovernanceProposal).where(
            GovernanceProposal.status.in_((PENDING, QUEUED)))
            .order_by(GovernanceProposal.created_at.desc()))
        return [_view(session, r, policy) for r in rows
                if r.status == QUEUED or now < expires_at(r, policy)]


WAITING = "pending"  # proposed (unexpired) and queued, as `governance pending` lists them


def list_governance(db: Database, status: str = WAITING) -> list[GovernanceView]:
    """Governance proposals with this status, newest first (`pending`: waiting or queued)."""
    status = (status or WAITING).strip().lower()
    if status == WAITING:
        return pending_governance(db)
    if status not in GOVERNANCE_STATUSES:
        raise ValidationFailed(f"status: {shown(status)} is not one of {WAITING}, "
                               f"{', '.join(GOVERNANCE_STATUSES)}")
    with reading(db) as session:
        policy = load_policy(session)
        return [_view(session, r, policy) for r in session.scalars(
            sa.select(GovernanceProposal).where(GovernanceProposal.status == status)
            .order_by(GovernanceProposal.created_at.desc()))]


def governance_story(db: Database, proposal_id: str) -> GovernanceView:
    with reading(db) as session:
        row = load_governance_proposal(session, proposal_id)
        return _view(session, row, load_policy(session), with_timeline=True)
