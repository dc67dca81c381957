"""The transparency log: every decision lands in `protocol_activity`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

# acting_through is re-exported: the API names its channel through this module.
from core.base.channel import acting_through, current_channel  # noqa: F401
from core.base.json_safe import jsonable
from core.base.parsing import optional_text, parse_limit
from core.base.sessions import DriverError, reading
from core.base.urls import redact_url, redact_urls_in
from core.record.audit import AUDIT_FAILED, Failure, take_failures
from core.record.outbox import add_event
from db.engine import READ_ONLY, Database
from db.models import ProtocolActivity

log = logging.getLogger(__name__)

# Activity that names a webhook URL. New rows store it redacted (core/jobs/webhooks.py); rows
# written before that are redacted as they are read (the log itself is append-only).
WEBHOOK_ACTIVITY = ("webhook_endpoint_added", "webhook_endpoint_removed", "webhook_delivery_failed")


@dataclass(frozen=True)
class ActivityEntry:
    id: str
    timestamp: datetime
    activity_type: str
    description: str
    metadata: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "timestamp": self.timestamp.isoformat(),
                "activity_type": self.activity_type, "description": self.description,
                "metadata": self.metadata}


def record_activity(session: so.Session, activity_type: str, description: str,
                    metadata: dict[str, Any] | None = None) -> None:
    """Add an activity row to the caller's transaction (it commits or rolls back with it), and
    the webhook event it reports, if any (core/record/outbox.py). The row names the channel the
    actor came through (`via`, core/base/channel.py) when the entry point named one."""
    channel = current_channel()
    meta = jsonable({**(metadata or {}), **({"via": channel} if channel else {})})
    session.add(ProtocolActivity(activity_type=activity_type, description=description, meta=meta))
    # A webhook receiver learns the channel, not the OS account, host or session behind it.
    add_event(session, activity_type,
              {**meta, "via": {"channel": channel["channel"]}} if channel else meta)


def _record_failures(session: so.Session, failures: list[Failure]) -> None:
    for failure in failures:
        record_activity(session, AUDIT_FAILED, failure.description(), failure.metadata())


def _write_failures_before_commit(session: so.Session) -> None:
    """Rows that failed their audit check in a transaction that commits: recorded in it."""
    _record_failures(session, take_failures(session))


def _write_failures_after_end(session: so.Session, transaction: so.SessionTransaction) -> None:
    """Failures found in a read, or in a transaction that rolled back (a refusal): recorded in a
    transaction of their own, once the one that found them has ended (on PostgreSQL its lock is
    released, on SQLite its connection returned), so they cannot wait for themselves."""
    if transaction.parent is not None:
        return
    failures = take_failures(session)
    if not failures:
        return
    # A reader's bind begins deferred transactions on SQLite; this write takes the write lock.
    bind = session.get_bind().execution_options(**{READ_ONLY: False})
    try:
        with so.Session(bind) as writer, writer.begin():
            _record_failures(writer, failures)
    except DriverError as error:  # the refusal stands; at least the server's log says so
        log.warning("audit: could not record %d failed check(s): %s", len(failures),
                    type(error).__name__)


sa.event.listen(so.Session, "before_commit", _write_failures_before_commit)
sa.event.listen(so.Session, "after_transaction_end", _write_failures_after_end)


def list_activity(db: Database, limit: Any = 50,
                  activity_type: str | None = None) -> list[ActivityEntry]:
    limit = parse_limit(limit)
    activity_type = optional_text(activity_type, "type", limit_of="activity_type")
    query = sa.select(ProtocolActivity).order_by(ProtocolActivity.timestamp.desc()).limit(limit)
    if activity_type:
        query = query.where(ProtocolActivity.activity_type == activity_type)
    with reading(db) as session:
        return [_shown(r) for r in session.scalars(query)]


def _shown(row: ProtocolActivity) -> ActivityEntry:
    description, meta = row.description, dict(row.meta or {})
    if row.activity_type in WEBHOOK_ACTIVITY:
        description = redact_urls_in(description)
        if isinstance(meta.get("url"), str):
            meta["url"] = redact_url(meta["url"])
    return ActivityEntry(str(row.id), row.timestamp, row.activity_type, description, meta)


def activity_types(db: Database) -> list[str]:
    with reading(db) as session:
        return list(session.scalars(sa.select(ProtocolActivity.activity_type).distinct()
                                    .order_by(ProtocolActivity.activity_type)))
