"""Rebalancer: metrics, an analysis on request, and filing its suggestion as a proposal."""

from __future__ import annotations

import re

from core.allocation.current import get_current_allocation
from core.platform_data.metrics_store import compute_metrics
from core.proposals.lifecycle import get_pending_proposals
from tests.app.helpers import all_text, no_exception, open_page
from ui.format import count, number, percent, price, share, usd

REBALANCER = "pages/3_Rebalancer.py"


def test_the_current_metrics_are_shown_to_everyone(db):
    at = open_page(REBALANCER, user="vic")
    no_exception(at)
    metrics = compute_metrics(db)
    shown = {m.label: m.value for m in at.metric}
    assert shown["Tokens, last 7 days"] == count(metrics.tokens_launched_7d)
    assert shown["Days of data"] == count(metrics.days_of_data)
    assert shown["Engagement"] == f"{number(metrics.engagement_score)} / 100"
    assert shown["Community growth"] == percent(metrics.growth_rate_pct, signed=True)
    assert shown["DAO treasury"] == usd(metrics.dao_balance_usd)
    assert shown["Avg token price"] == price(metrics.avg_token_price_usd)


def test_the_metrics_read_as_on_the_home_page(db):
    """One formatting module: the same figure is written the same way on both pages (the demo's
    price is under a dollar, so it keeps four significant digits, not four decimals)."""
    rebalancer = {m.label: m.value for m in open_page(REBALANCER, user="vic").metric}
    home = {m.label: m.value for m in open_page(user="vic").metric}
    for label in ("Community growth", "DAO treasury", "Avg token price"):
        assert rebalancer[label] == home[label], label
    assert re.fullmatch(r"\$0\.0*[1-9]\d{3}", rebalancer["Avg token price"])


def test_a_viewer_is_not_offered_the_analysis(db):
    at = open_page(REBALANCER, user="vic")
    assert "rebalance_run" not in [b.key for b in at.button]
    assert "Analysts run the rebalancer" in all_text(at)


def test_an_analysis_shows_a_suggestion_against_the_current_split_and_files_nothing(db):
    pending_before = len(get_pending_proposals(db))
    at = open_page(REBALANCER, user="ann").button(key="rebalance_run").click().run()
    no_exception(at)
    result = at.session_state["rebalance_result"].as_json()
    assert result["engine"] == "rules"  # no OPENAI_API_KEY in the tests
    assert result["current_allocation"] == get_current_allocation(db).split.as_json()
    assert result["reasoning"] in [t.value for t in at.text]  # as text, never Markdown
    confidence = {m.label: m.value for m in at.metric}["Confidence"]
    assert confidence == share(result["confidence"])
    assert re.fullmatch(r"\d{1,3}%", confidence)
    assert len(at.get("plotly_chart")) == 2  # engagement series and the comparison
    assert len(get_pending_proposals(db)) == pending_before
    # The demo platform sits inside every rule's band: nothing to change, nothing to file.
    assert not result["should_rebalance"]
    assert "No rebalance needed" in all_text(at)
    assert "rebalance_file" not in [b.key for b in at.button]


def test_a_suggested_change_can_be_filed_as_a_proposal(plain_db):
    at = open_page(REBALANCER, user="ann").button(key="rebalance_run").click().run()
    result = at.session_state["rebalance_result"].as_json()
    assert result["should_rebalance"], result["reasoning"]
    suggested = "/".join(str(result["suggested_allocation"][b]) for b in
                         ("reinvestment", "dao", "lucky", "creator"))
    assert {m.label: m.value for m in at.metric}["Suggested split"] == suggested
    at = at.button(key="rebalance_file").click().run()
    no_exception(at)
    assert f"Suggestion {suggested} filed as a proposal" in all_text(at)
    newest = get_pending_proposals(plain_db)[0].record
    assert newest.split.as_json() == result["suggested_allocation"]
    assert (newest.proposed_by, newest.proposer_username) == ("system", "ann")
    assert newest.input_metrics == result["metrics"]
    assert newest.reasoning == result["reasoning"]
    assert "rebalance_result" not in at.session_state


def test_while_rebalancing_is_paused_a_suggestion_is_shown_but_not_offered_for_filing(plain_db):
    from core.governance.policy_store import set_policy

    set_policy(plain_db, "rebalancing_paused", "true", by="ada")
    at = open_page(REBALANCER, user="ann").button(key="rebalance_run").click().run()
    no_exception(at)
    assert at.session_state["rebalance_result"].as_json()["should_rebalance"]
    assert "Rebalancing is paused by the policy" in all_text(at)
    assert "rebalance_file" not in [b.key for b in at.button]
    assert get_pending_proposals(plain_db) == []


def test_a_run_appears_in_the_activity_feed_at_once(plain_db):
    from core.record.activity import list_activity

    activity = open_page("pages/7_Activity.py", user="ann")
    runs_before = len(list_activity(plain_db, activity_type="rebalance_run"))
    open_page(REBALANCER, user="ann").button(key="rebalance_run").click().run()
    activity.run()
    feed = next(d.value for d in activity.dataframe if "activity_type" in d.value.columns
                or "type" in d.value.columns)
    column = "activity_type" if "activity_type" in feed.columns else "type"
    assert list(feed[column]).count("rebalance_run") == runs_before + 1
