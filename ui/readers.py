"""Cached reads for the pages. Core returns plain data, so results are safe to cache and share.

Every reader takes the Database as its first argument. It is hashed by its URL (`hash_funcs`),
not skipped like an `_engine` argument would be: one process may hold several databases (the
tests, the benchmark at two scales), and entries must never cross from one to another. A write
clears them all (`ui.feedback.after_write`); the TTLs bound how stale another user's write looks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from core.allocation.current import get_current_allocation
from core.allocation.split import Split
from core.base.errors import DatabaseFailure
from core.governance.accounts import list_users
from core.governance.changes import pending_governance
from core.governance.sealing import governance_status as _governance_status
from core.governance.policy_store import get_policy, policy_versions as _policy_versions
from core.proposals.distribution import list_distributions
from core.proposals.history_export import HISTORY_CSV_COLUMNS, history_rows
from core.proposals.lifecycle import get_allocation_history, get_pending_proposals
from core.proposals.lifecycle import get_proposal
from core.proposals.queue import queued_changes
from core.record.activity import activity_types as _activity_types
from core.record.activity import list_activity
from db.engine import Database
from db.models import BUCKET_COLUMNS
from db.types import utcnow
from ui.feedback import stop_on_database_failure

F = TypeVar("F", bound=Callable[..., Any])
_HASH = {Database: lambda db: db.engine.url.render_as_string(hide_password=True)}
WEEKLY_REPORT_TYPE = "weekly_allocation_report"


def reader(ttl: int, spinner: str | bool = False) -> Callable[[F], F]:
    """`st.cache_data` keyed by the database's URL; a database failure becomes a clear notice.
    `spinner` names the wait on a cache miss, for the reads that can take a second."""

    def decorate(func: F) -> F:
        cached = st.cache_data(ttl=ttl, show_spinner=spinner, hash_funcs=_HASH)(func)

        @functools.wraps(func)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return cached(*args, **kwargs)
            except DatabaseFailure as failure:
                stop_on_database_failure(failure)

        call.clear = cached.clear  # type: ignore[attr-defined]
        return call  # type: ignore[return-value]

    return decorate


# --- the split and its proposals -------------------------------------------------------------

@reader(ttl=15)
def current(db: Database):
    return get_current_allocation(db)


@reader(ttl=60)
def allocation(db: Database, allocation_id: str):
    return get_proposal(db, allocation_id)


@reader(ttl=15)
def pending(db: Database):
    return get_pending_proposals(db)


@reader(ttl=30)
def policy(db: Database):
    return get_policy(db)


@reader(ttl=15)
def queued(db: Database):
    return queued_changes(db)


@reader(ttl=15)
def governance_pending(db: Database):
    return pending_governance(db)


@reader(ttl=30)
def governance_status(db: Database):
    return _governance_status(db)


@reader(ttl=30)
def history(db: Database) -> pd.DataFrame:
    """Every row of the allocation log, newest first, as the History CSV writes it
    (`history_records`: whether an active split's period is in force or closed, and its end;
    every approver), plus the split's label: the page's table and its CSV say the same."""
    records = list(history_records(db).values())
    frame = pd.DataFrame(records, columns=list(HISTORY_CSV_COLUMNS))
    if frame.empty:
        return frame
    for column in ("timestamp", "period_start", "period_end", "reviewed_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["split"] = [Split(*(r[c] for c in BUCKET_COLUMNS)).label() for r in records]
    frame["confidence"] = pd.to_numeric(frame["confidence"])  # a progress bar needs a number
    return frame


@reader(ttl=30)
def history_records(db: Database) -> dict[str, dict]:
    """Every row of the allocation log as the History CSV writes it
    (`core.proposals.history_export`), by id."""
    return history_rows(db)


@reader(ttl=30)
def proposal_splits(db: Database) -> dict[str, str]:
    """Each log row's split label by its id, to name proposals by their split."""
    return {r.id: r.split.label() for r in get_allocation_history(db)}


# --- metrics and analytics (core.platform_data.metrics_store / core.platform_data.queries) ------------------------------

@reader(ttl=300, spinner="Computing the platform metrics…")
def metrics_now_and_week_ago(db: Database):
    """The platform metrics now and seven days ago, for the week's change."""
    from core.platform_data.metrics_store import compute_metrics

    now = utcnow()
    return compute_metrics(db, now=now), compute_metrics(db, now=now - timedelta(days=7))


@reader(ttl=300, spinner="Computing the platform metrics…")
def metrics(db: Database):
    from core.platform_data.metrics_store import compute_metrics

    return compute_metrics(db)


@reader(ttl=300)
def weekly_series(db: Database, days: int = 90):
    from core.platform_data.queries import weekly_metric_series

    return weekly_metric_series(db, days)


@reader(ttl=300, spinner="Comparing the allocation periods with token performance…")
def performance(db: Database, date_from: date | None = None, date_to: date | None = None) -> pd.DataFrame:
    from core.platform_data.queries import compare_performance

    # Dates are whole UTC days, `date_to` included (core turns them into half-open bounds).
    return pd.DataFrame(compare_performance(db, date_from=date_from, date_to=date_to))


@reader(ttl=60)
def periods(db: Database):
    from core.platform_data.queries import allocation_periods

    return allocation_periods(db)


@reader(ttl=60)
def suggestion_quality(db: Database, days: int = 30):
    from core.platform_data.queries import suggestion_quality as quality

    return quality(db, days=days)


@reader(ttl=60)
def distribution_totals(db: Database):
    from core.platform_data.queries import distribution_totals_over_time

    return distribution_totals_over_time(db)


# --- ledger, activity, accounts ---------------------------------------------------------------

@reader(ttl=30)
def distributions(db: Database, limit: int = 200):
    return list_distributions(db, limit=limit)


@reader(ttl=30)
def activity(db: Database, activity_type: str | None = None, limit: int = 100):
    return list_activity(db, limit=limit, activity_type=activity_type)


@reader(ttl=60)
def activity_types(db: Database) -> list[str]:
    return _activity_types(db)


@reader(ttl=60)
def weekly_reports(db: Database, limit: int = 12):
    return list_activity(db, limit=limit, activity_type=WEEKLY_REPORT_TYPE)


@reader(ttl=30)
def accounts(db: Database):
    return list_users(db)


@reader(ttl=30)
def policy_versions(db: Database):
    return _policy_versions(db)
