"""Filing a dry run's suggestion later (the dashboard's "File it"): the same rules as a real run."""

from __future__ import annotations

from core.allocation.current import get_current_allocation
from core.base.errors import Refused
from core.governance.policy_store import set_policy
from core.platform_data.metrics_model import PlatformMetrics
from core.proposals.lifecycle import get_allocation_history
from core.rebalancer.service import file_suggestion, run_rebalance
from core.record.activity import list_activity
from tests.integration.launch_week import load_launch_week

import pytest

LAUNCH_WEEK = PlatformMetrics.from_json({
    "growth_rate_pct": 60, "engagement_score": 85, "dao_balance_usd": 2500,
    "avg_token_price_usd": 0.03, "tokens_launched_7d": 15, "days_of_data": 30})


def test_a_dry_runs_suggestion_is_filed_with_its_metrics_and_the_run_logged(db):
    analysis = run_rebalance(db, metrics=LAUNCH_WEEK, engine="rules", dry_run=True)
    runs_before = len(list_activity(db, activity_type="rebalance_run"))
    filed = file_suggestion(db, analysis, by="ann")
    assert filed.outcome == "filed" and filed.proposal_id
    newest = get_allocation_history(db, 1)[0]
    assert (newest.id, newest.status, newest.proposed_by) == (filed.proposal_id, "proposed", "system")
    assert newest.split == analysis.suggestion.split
    assert newest.input_metrics == LAUNCH_WEEK.as_json()
    assert len(list_activity(db, activity_type="rebalance_run")) == runs_before + 1


def test_filing_while_rebalancing_is_paused_is_refused_and_writes_nothing(db):
    analysis = run_rebalance(db, metrics=LAUNCH_WEEK, engine="rules", dry_run=True)
    set_policy(db, "rebalancing_paused", "true", by="ada")
    rows, activity = len(get_allocation_history(db)), len(list_activity(db, limit=1000))
    with pytest.raises(Refused, match="rebalancing: paused"):
        file_suggestion(db, analysis, by="ann")
    assert (len(get_allocation_history(db)), len(list_activity(db, limit=1000))) == (rows, activity)


def test_a_filed_suggestion_goes_through_the_bounded_auto_approval(db, tmp_path):
    load_launch_week(db, tmp_path)  # the database's own figures: the caller's are never enough
    set_policy(db, "auto_approve_min_confidence", "0.5", by="ada")
    analysis = run_rebalance(db, engine="rules", dry_run=True)
    filed = file_suggestion(db, analysis, by="ann")
    assert filed.auto_approved
    assert get_current_allocation(db).id == filed.proposal_id
