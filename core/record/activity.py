"""The transparency log: every decision lands in `protocol_activity`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

# acting_through is re-exported: the API names its channel through this module.
from core.base.channel import acting_through, current_channel  # noqa: F401
from core.base.json_safe import jsonable
from core.base.parsing import optional_text, parse_limit
from core.base.sessions import reading
from core.record.outbox import add_event
from db.engine import Database
from db.models import ProtocolActivity


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


def list_activity(db: Database, limit: Any = 50,
                  activity_type: str | None = None) -> list[ActivityEntry]:
    limit = parse_limit(limit)
    activity_type = optional_text(activity_type, "type", limit_of="activity_type")
    query = sa.select(ProtocolActivity).order_by(ProtocolActivity.timestamp.desc()).limit(limit)
    if activity_type:
        query = query.where(ProtocolActivity.activity_type == activity_type)
    with reading(db) as session:
        return [ActivityEntry(str(r.id), r.timestamp, r.activity_type, r.description, r.meta or {})
                for r in session.scalars(query)]


def activity_types(db: Database) -> list[str]:
    with reading(db) as session:
        return list(session.scalars(sa.select(ProtocolActivity.activity_type).distinct()
                                    .order_by(ProtocolActivity.activity_type)))
