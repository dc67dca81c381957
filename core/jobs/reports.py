"""The seed's weekly allocation report, written to `protocol_activity`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.allocation.records import CurrentAllocation
from core.base.json_safe import jsonable
from core.base.sessions import writing
from core.platform_data.queries import money_sum
from core.proposals.lifecycle import current_row
from core.record.activity import record_activity
from db.engine import Database
from db.models import AllocationLog, ProfitDistribution
from db.types import UTCDateTime, utcnow

REPORT_DAYS = 7
STATUS_COUNTS = {"approved": "active", "rejected": "rejected", "pending": "proposed",
                 "expired": "expired"}


def _proposals(session: so.Session, since: datetime, now: datetime) -> dict[str, Any]:
    """Proposals filed in (since, now]. The seed counts every log row of the window; the one
    row that never was a proposal, the default split seeded active at install (active without
    a review), is left out so it does not read as an approval."""
    log = AllocationLog
    seeded = sa.and_(log.status == "active", log.reviewed_at.is_(None))
    counts = [sa.func.coalesce(sa.func.sum(sa.case((log.status == s, 1), else_=0)), 0).label(k)
              for k, s in STATUS_COUNTS.items()]
    row = session.execute(sa.select(sa.func.count().label("n"),
                                    sa.func.avg(log.confidence).label("avg"), *counts)
                          .where(log.timestamp > sa.literal(since, UTCDateTime()),
                                 log.timestamp <= sa.literal(now, UTCDateTime()),
                                 sa.not_(seeded))).one()
    return {"proposals_count": int(row.n),
            "avg_confidence": round(float(row.avg), 4) if row.avg is not None else None,
            **{k: int(getattr(row, k)) for k in STATUS_COUNTS}}


def _distributions(session: so.Session, since: datetime, now: datetime) -> dict[str, Any]:
    dist = ProfitDistribution
    row = session.execute(sa.select(sa.func.count().label("n"),
                                    money_sum(session, dist.total).label("total"))
                          .where(dist.created_at > sa.literal(since, UTCDateTime()),
                                 dist.created_at <= sa.literal(now, UTCDateTime()))).one()
    return {"count": int(row.n), "total": str(row.total) if row.total is not None else "0"}


def weekly_report(db: Database, now: datetime | None = None) -> dict[str, Any]:
    """Write the weekly report for the 7 days up to `now` and return its metadata."""
    now = now or utcnow()
    since = now - timedelta(days=REPORT_DAYS)
    with writing(db) as session:
        live = current_row(session)
        current = CurrentAllocation.of(live)
        metadata = jsonable({
            "period": {"from": since, "to": now},
            "active_split": {**current.split.as_json(), "allocation_id": current.id,
                             "source": current.source, "effective_from": current.effective_from},
            **_proposals(session, since, now),
            "distributions": _distributions(session, since, now),
        })
        record_activity(session, "weekly_allocation_report", "Weekly allocation analysis", metadata)
    return metadata
