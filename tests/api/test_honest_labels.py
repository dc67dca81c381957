"""Honest labels through the API (the trust issue, part 8): a token's owner files `manual`
proposals only, and the profit-rebalancer's suggestion from a `metrics` body is never
auto-approved."""

from __future__ import annotations

from core.governance.policy_store import set_policy
from core.rebalancer.service import CALLER_METRICS_NOTE
from tests.api.test_routes import PROPOSAL, problem_of
from tests.integration.state import snapshot

LAUNCH_WEEK = {"growth_rate_pct": 60.0, "engagement_score": 85.0, "dao_balance_usd": 2500.0,
               "avg_token_price_usd": 0.03, "tokens_launched_7d": 15, "days_of_data": 30}


def test_a_proposal_labelled_ai_by_a_token_holder_is_403_naming_proposed_by(api):
    before = snapshot(api.db)
    errors = problem_of(api.post("ann", "/api/v1/proposals", json={**PROPOSAL, "proposed_by": "ai"}),
                        403)
    assert errors[0].startswith("proposed_by: ai is the rebalancer's own label")
    assert snapshot(api.db) == before


def test_the_rebalancer_with_a_metrics_body_files_its_proposal_but_never_auto_approves_it(api):
    set_policy(api.db, "auto_approve_min_confidence", "0.5", by="ada")
    response = api.post("ann", "/functions/v1/profit-rebalancer",
                        json={"engine": "rules", "metrics": LAUNCH_WEEK})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["proposal_id"] and body["outcome"] == "filed" and body["auto_approved"] is False
    assert body["auto_approval_note"] == CALLER_METRICS_NOTE
