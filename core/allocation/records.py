"""Plain-data views of allocation log rows, safe to cache and to hand to the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from core.allocation.split import DEFAULT_SPLIT, Split

if TYPE_CHECKING:  # a row of either kind: the current split is read through Core (core/allocation/current.py)
    from sqlalchemy import Row

    from db.models import AllocationLog


def split_of(row: AllocationLog | Row[Any]) -> Split:
    """The four percentages of a log row (or a ledger row: same column names)."""
    return Split(row.reinvestment_pct, row.dao_pct, row.lucky_pct, row.creator_pct)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class AllocationRecord:
    id: str
    timestamp: datetime
    split: Split
    status: str
    reasoning: str
    confidence: Decimal
    input_metrics: dict[str, Any] | None
    proposed_by: str
    proposer_username: str | None
    based_on_id: str | None
    effective_from: datetime | None
    effective_until: datetime | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_notes: str | None

    @classmethod
    def from_row(cls, row: AllocationLog) -> "AllocationRecord":
        return cls(
            id=str(row.id), timestamp=row.timestamp,
            split=split_of(row),
            status=row.status, reasoning=row.reasoning, confidence=row.confidence,
            input_metrics=row.input_metrics, proposed_by=row.proposed_by,
            proposer_username=row.proposer_username,
            based_on_id=str(row.based_on_id) if row.based_on_id else None,
            effective_from=row.effective_from, effective_until=row.effective_until,
            reviewed_by=row.reviewed_by, reviewed_at=row.reviewed_at, review_notes=row.review_notes)

    @property
    def is_current(self) -> bool:
        return self.status == "active" and self.effective_until is None

    def as_json(self) -> dict[str, Any]:
        """Every column under its database name, plus the split under the CLI's bucket keys."""
        return {
            "id": self.id, "timestamp": _iso(self.timestamp),
            **{f"{k}_pct": v for k, v in self.split.as_json().items()},
            **self.split.as_json(),
            "status": self.status, "reasoning": self.reasoning,
            "confidence": float(self.confidence), "input_metrics": self.input_metrics,
            "proposed_by": self.proposed_by, "proposer_username": self.proposer_username,
            "based_on_id": self.based_on_id, "effective_from": _iso(self.effective_from),
            "effective_until": _iso(self.effective_until), "reviewed_by": self.reviewed_by,
            "reviewed_at": _iso(self.reviewed_at), "review_notes": self.review_notes,
        }


@dataclass(frozen=True)
class CurrentAllocation:
    """The split in force. `source` is "default" when the log has no active row at all."""

    split: Split
    source: str
    id: str | None = None
    effective_from: datetime | None = None
    reasoning: str | None = None
    proposed_by: str | None = None
    reviewed_by: str | None = None

    @classmethod
    def default(cls) -> "CurrentAllocation":
        return cls(DEFAULT_SPLIT, "default",
                   reasoning="No active allocation in the database: built-in default 80/15/3/2")

    @classmethod
    def of(cls, row: AllocationLog | Row[Any] | None) -> "CurrentAllocation":
        """The current row's split, or the built-in default when there is none."""
        return cls.default() if row is None else cls.from_row(row)

    @classmethod
    def from_row(cls, row: AllocationLog | Row[Any]) -> "CurrentAllocation":
        return cls(split_of(row),
                   "database", str(row.id), row.effective_from, row.reasoning, row.proposed_by,
                   row.reviewed_by)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, **self.split.as_json(), "effective_from": _iso(self.effective_from),
                "source": self.source, "reasoning": self.reasoning,
                "proposed_by": self.proposed_by, "reviewed_by": self.reviewed_by}


@dataclass(frozen=True)
class PendingProposal:
    record: AllocationRecord
    approvals: list[str]
    approvals_required: int
    expires_at: datetime
    tier: str = "minor"  # against the live split: "major" needs approvals_required_major

    def as_json(self) -> dict[str, Any]:
        data = self.record.as_json()
        data.update({"approvals": self.approvals, "approvals_required": self.approvals_required,
                     "expires_at": _iso(self.expires_at), "tier": self.tier})
        return data


# The events of a proposal's story, in the order they happen when they share an instant. A
# proposal put to a community vote has its opening, one line counting the votes while it is open
# (never a line per vote: there may be thousands) and its close, which comes before what the
# result did at the same instant (a binding vote's rejection or activation).
VOTE_OPENED, VOTES_SO_FAR, VOTE_CLOSED = "vote_opened", "votes", "vote_closed"
TIMELINE_EVENTS = ("filed", VOTE_OPENED, VOTES_SO_FAR, VOTE_CLOSED, "approved", "rejected",
                   "activated", "withdrawn", "expired", "superseded", "replaced")


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    event: str  # one of TIMELINE_EVENTS
    by: str | None
    notes: str | None

    def as_json(self) -> dict[str, Any]:
        return {"at": _iso(self.at), "event": self.event, "by": self.by, "notes": self.notes}


@dataclass(frozen=True)
class ProposalStory:
    """One proposal and everything that happened to it, oldest first.

    `tier` and `approvals_required` are measured against `compared_with`: the live split while
    the proposal waits, the split it replaced once activated, else the split it was filed on.
    `replaced_by`/`superseded_by` name the proposal that later took its place, if any.
    """

    record: AllocationRecord
    tier: str
    approvals: list[str]
    approvals_required: int
    compared_with: Split
    expires_at: datetime
    timeline: list[TimelineEvent]
    replaced_by: str | None = None
    superseded_by: str | None = None

    def as_json(self) -> dict[str, Any]:
        data = self.record.as_json()
        data.update({"tier": self.tier, "approvals": self.approvals,
                     "approvals_required": self.approvals_required,
                     "compared_with": self.compared_with.as_json(),
                     "expires_at": _iso(self.expires_at), "replaced_by": self.replaced_by,
                     "superseded_by": self.superseded_by,
                     "timeline": [e.as_json() for e in self.timeline]})
        return data

