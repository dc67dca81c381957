"""The webhook outbox: events written in the transaction of the change they report.

`record_activity` is the one call every change already makes inside its own transaction, so it
hands each reportable activity to `add_event` here: the event commits with the change, or rolls
back with it (an event from a refused or failed change is never sent), and nothing a change logs
can be forgotten by a new write path. Only events some active endpoint subscribes to are kept:
the outbox holds what is to be sent, not a second activity log. Delivery, and pruning what was
sent or given up, are in core/jobs/webhooks.py.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.base.locking import serialize_writes
from db.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from db.types import utcnow

EVENT_TYPES = ("proposal.filed", "proposal.reviewed", "proposal.expired", "proposal.withdrawn",
               "allocation.activated", "distribution.recorded", "rebalance.completed",
               "policy.changed", "allocation.queued", "allocation.vetoed", "governance.filed",
               "governance.reviewed", "governance.activated", "audit.failed",
               "experiment.filed", "experiment.reviewed", "experiment.started",
               "experiment.switched", "experiment.finished", "experiment.stopped", "vote.cast",
               "vote.closed")
ALL_EVENTS = "all"

# activity_type -> (event type, fields added to the activity's metadata)
ACTIVITY_EVENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "allocation_proposed": ("proposal.filed", {}),
    "allocation_approval_recorded": ("proposal.reviewed", {"decision": "approved"}),
    "allocation_auto_approved": ("proposal.reviewed", {"decision": "approved"}),
    "allocation_rejected": ("proposal.reviewed", {"decision": "rejected"}),
    "allocation_expired": ("proposal.expired", {}),
    "allocation_withdrawn": ("proposal.withdrawn", {}),
    "allocation_activated": ("allocation.activated", {}),
    "profit_distributed": ("distribution.recorded", {}),
    "rebalance_run": ("rebalance.completed", {}),
    "policy_changed": ("policy.changed", {}),
    "allocation_queued": ("allocation.queued", {}),
    "allocation_vetoed": ("allocation.vetoed", {}),
    "governance_filed": ("governance.filed", {}),
    "governance_reviewed": ("governance.reviewed", {}),
    "governance_activated": ("governance.activated", {}),
    "audit_failed": ("audit.failed", {}),
    # Switchback experiments (core/experiments): a block's switch is also `allocation_activated`
    # when it changes the split, so receivers of allocation.activated hear of it as of any other.
    "experiment_filed": ("experiment.filed", {}),
    "experiment_approval_recorded": ("experiment.reviewed", {"decision": "approved"}),
    "experiment_rejected": ("experiment.reviewed", {"decision": "rejected"}),
    "experiment_started": ("experiment.started", {}),
    # api.md's experiment.switched: each block's start, whether or not it changed the split.
    "experiment_block_started": ("experiment.switched", {}),
    "experiment_finished": ("experiment.finished", {}),
    "experiment_stopped": ("experiment.stopped", {}),
    # Community votes (core/voting): each signed vote taken, and each vote closed with its result.
    "vote_cast": ("vote.cast", {}),
    "vote_closed": ("vote.closed", {}),
}
_ENDPOINTS_KEY = "webhook_endpoints"


def subscribes(events: list[str], event_type: str) -> bool:
    return ALL_EVENTS in events or event_type in events


def _endpoints(session: so.Session) -> list[tuple[Any, list[str]]]:
    # Read once per transaction: a review writes three events, the endpoints are the same.
    if _ENDPOINTS_KEY not in session.info:
        session.info[_ENDPOINTS_KEY] = [tuple(r) for r in session.execute(
            sa.select(WebhookEndpoint.id, WebhookEndpoint.events)
            .where(WebhookEndpoint.removed_at.is_(None)))]
    return session.info[_ENDPOINTS_KEY]


def _forget_endpoints(session: so.Session, *_: Any) -> None:
    session.info.pop(_ENDPOINTS_KEY, None)


sa.event.listen(so.Session, "after_transaction_end", _forget_endpoints)


def add_event(session: so.Session, activity_type: str, metadata: dict[str, Any]) -> None:
    """Write the event for this activity (if it is one) and a delivery per subscribed endpoint,
    in the caller's transaction; an event no active endpoint subscribes to is not written at all
    (nobody would ever be sent it). `metadata` is plain JSON already."""
    if activity_type not in ACTIVITY_EVENTS:
        return
    event_type, extra = ACTIVITY_EVENTS[activity_type]
    receivers = [endpoint_id for endpoint_id, events in _endpoints(session)
                 if subscribes(events, event_type)]
    if not receivers:
        return
    # Event ids are the delivery order. On PostgreSQL ids come from a sequence at insert time,
    # not at commit: two writers could commit 6 before 5, and a deliverer that already sent 6
    # would send 5 after it. Taking the write lock before the id is drawn makes id order
    # commit order (SQLite's BEGIN IMMEDIATE already does).
    serialize_writes(session)
    now = utcnow()
    event = OutboxEvent(type=event_type, created_at=now, data={**metadata, **extra})
    session.add(event)
    session.flush()  # the event's id, for its deliveries
    for endpoint_id in receivers:
        session.add(WebhookDelivery(event_id=event.id, endpoint_id=endpoint_id, status="pending",
                                    attempts=0, next_attempt_at=now))
