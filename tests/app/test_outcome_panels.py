"""The outcome panels on the other pages: the backtest on a proposal's card, what the last
change did on Review, and the Performance page's split colours and intervals."""

from __future__ import annotations

import json
from decimal import Decimal

from core.allocation.backtest import backtest
from core.allocation.validation import ProposalInput
from core.platform_data.outcomes import activation_outcomes, compare_periods
from core.platform_data.queries import compare_performance
from core.proposals.lifecycle import get_pending_proposals, propose_allocation
from tests.app.helpers import all_text, no_exception, open_page
from ui.outcome_panels import change_sentence, change_text

REVIEW, PERFORMANCE = "pages/1_Review.py", "pages/5_Performance.py"


def test_a_proposal_card_shows_what_its_split_would_have_paid(db):
    proposal = get_pending_proposals(db)[0].record
    expected = backtest(db, proposal.split)
    assert expected.distributions > 0
    at = open_page(REVIEW, user="gus")
    no_exception(at)
    table = next(d.value for d in at.dataframe if "proposed" in d.value.columns)
    total = table.set_index("bucket").loc["Total"]
    # Exact text, grouped in thousands: no float on the way.
    assert total["actual"] == total["proposed"] == f"{expected.total:,f}"
    dao = table.set_index("bucket").loc["DAO treasury"]
    assert dao["difference"] == f"{expected.difference['dao']:,f}"
    assert f"{expected.distributions} distributions, {expected.total:,f} in all" in all_text(at)


def test_a_huge_backtest_keeps_every_cent_in_the_table_and_the_totals_agree(plain_db):
    from core.governance.policy_store import set_policy
    from core.proposals.distribution import distribute

    set_policy(plain_db, "max_distribution", "off", by="ada")  # 1e15 is above the default cap
    distribute(plain_db, "1000000000000000.01", "huge", by="ann")
    distribute(plain_db, "31991.19", "small", by="ann")
    propose_allocation(plain_db, ProposalInput(75, 15, 6, 4, reasoning="more rewards"), by="ann")
    at = open_page(REVIEW, user="gus")
    no_exception(at)
    table = next(d.value for d in at.dataframe if "proposed" in d.value.columns).set_index("bucket")
    assert table.at["Total", "actual"] == table.at["Total", "proposed"] == "1,000,000,000,031,991.20"
    buckets = table.drop(index="Total")
    for column in ("actual", "proposed"):  # the rows add up to the total, to the cent
        assert sum(Decimal(v.replace(",", "")) for v in buckets[column]) == Decimal(
            "1000000000031991.20")
    assert table.at["Total", "difference"] == "0.00"
    assert "1,000,000,000,031,991.20 in all" in all_text(at)


def test_without_distributions_the_card_projects_a_typed_profit(plain_db):
    filed = propose_allocation(plain_db, ProposalInput(75, 15, 6, 4, reasoning="more rewards"),
                               by="ann")
    at = open_page(REVIEW, user="gus")
    no_exception(at)
    assert "No distributions in the last 90 days" in all_text(at)
    at.text_input(key=f"projection_{filed.proposal_id}").input("2000").run()
    table = at.dataframe[0].value.set_index("bucket")
    assert (table.at["Reinvestment", "live"], table.at["Reinvestment", "proposed"]) == (
        "1,600.00", "1,500.00")
    assert str(table.at["Total", "difference"]) == "0.00"
    at.text_input(key=f"projection_{filed.proposal_id}").input("lots").run()
    assert "profit: 'lots' is not a number" in all_text(at)


def test_review_shows_what_the_last_measurable_change_did(db):
    newest, last = activation_outcomes(db)[-1], activation_outcomes(db)[-2]
    assert newest.days_after == 0  # the default seeded at install, minutes ago
    at = open_page(REVIEW, user="gus")
    no_exception(at)
    assert "too few to measure" in all_text(at)
    assert f"**{last.previous_split.label()} → {last.split.label()}**" in all_text(at)
    labels = [m.label for m in at.metric]
    assert "Trading volume per day ($)" in labels


def test_performance_bars_carry_the_split_colours_and_the_comparison_its_intervals(db):
    at = open_page(PERFORMANCE, user="vic")
    no_exception(at)
    bars = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    rows = compare_performance(db)
    assert len(set(bars["marker"]["color"])) == len({r["split"] for r in rows})
    assert "approved by" in bars["hovertext"][1]
    a, b = rows[-3], rows[-2]
    changes = compare_periods(db, a["allocation_id"], b["allocation_id"])
    at.selectbox(key="performance_a").set_value(a["allocation_id"])
    at.selectbox(key="performance_b").set_value(b["allocation_id"]).run()
    no_exception(at)
    assert change_sentence("Volume per day", changes["volume_per_day"]) in all_text(at)
    assert "95%" in change_text(changes["volume_per_day"])
