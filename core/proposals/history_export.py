"""The allocation log as the History page's CSV writes it: one row per log row, each fact once.

Unlike the API's record (`AllocationRecord.as_json`, which carries the split twice for two kinds
of client), a spreadsheet gets each bucket once; every governor who approved a proposal, not only
the last one (`reviewed_by` names the decision that ended it); and whether an activated split's
period is still in force or closed, with the period's end, since the log's status stays `active`
after a later split replaces it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from core.base.sessions import reading
from core.proposals.lifecycle import get_allocation_history
from db.engine import Database
from db.models import BUCKET_COLUMNS, ProposalReview

APPROVERS_SEPARATOR = "; "
IN_FORCE, CLOSED = "in force", "closed"
HISTORY_CSV_COLUMNS = ("id", "timestamp", *BUCKET_COLUMNS, "status", "period", "period_start",
                       "period_end", "proposed_by", "proposer_username", "confidence",
                       "reasoning", "input_metrics", "based_on_id", "approved_by", "reviewed_by",
                       "reviewed_at", "review_notes")


def _approvers(db: Database) -> dict[str, list[str]]:
    """proposal id -> every approving reviewer, in the order they approved."""
    query = (sa.select(ProposalReview.proposal_id, ProposalReview.reviewer)
             .where(ProposalReview.decision == "approved")
             .order_by(ProposalReview.reviewed_at, ProposalReview.reviewer))
    found: dict[str, list[str]] = defaultdict(list)
    with reading(db) as session:
        for proposal_id, reviewer in session.execute(query):
            found[str(proposal_id)].append(reviewer)
    return found


def history_rows(db: Database) -> dict[str, dict[str, Any]]:
    """Every log row under `HISTORY_CSV_COLUMNS` (values as data: datetimes, Decimals, dicts),
    by id, newest first."""
    approvers = _approvers(db)
    rows: dict[str, dict[str, Any]] = {}
    for record in get_allocation_history(db):
        period = ""
        if record.status == "active":
            period = IN_FORCE if record.effective_until is None else CLOSED
        approved = approvers.get(record.id, [])
        if not approved and period and record.reviewed_by:
            approved = [record.reviewed_by]  # auto-approved: the decision has no review row
        rows[record.id] = {
            "id": record.id, "timestamp": record.timestamp,
            # `80`, `2.5`: a percentage as people write it, exact (the CSV never shows `8E+1`).
            **{column: value.normalize()
               for column, (_, value) in zip(BUCKET_COLUMNS, record.split.items())},
            "status": record.status, "period": period, "period_start": record.effective_from,
            "period_end": record.effective_until, "proposed_by": record.proposed_by,
            "proposer_username": record.proposer_username, "confidence": record.confidence,
            "reasoning": record.reasoning, "input_metrics": record.input_metrics,
            "based_on_id": record.based_on_id,
            "approved_by": APPROVERS_SEPARATOR.join(approved),
            "reviewed_by": record.reviewed_by, "reviewed_at": record.reviewed_at,
            "review_notes": record.review_notes}
    return rows
