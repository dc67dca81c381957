"""Performance: each allocation period against token launches, per period and per day."""

from __future__ import annotations

from core.platform_data.queries import compare_performance
from tests.app.helpers import no_exception, open_page

PERFORMANCE = "pages/5_Performance.py"


def test_every_period_is_compared_per_period_and_per_day(db):
    at = open_page(PERFORMANCE, user="vic")
    no_exception(at)
    rows = compare_performance(db)
    table = at.dataframe[0].value
    assert len(table) == len(rows)
    assert list(table["tokens_launched"]) == [r["tokens_launched"] for r in rows]
    assert sum(table["tokens_launched"]) == 5000  # every demo token counted exactly once
    assert len(at.get("plotly_chart")) == 2


def test_two_periods_side_by_side_with_their_deltas(db):
    at = open_page(PERFORMANCE, user="vic")
    rows = compare_performance(db)
    at.selectbox(key="performance_a").set_value(rows[0]["allocation_id"])
    at.selectbox(key="performance_b").set_value(rows[2]["allocation_id"]).run()
    no_exception(at)
    shown = {m.label: m for m in at.metric}
    a, b = rows[0], rows[2]
    assert shown["Tokens launched (A)"].value == f"{a['tokens_launched']:,}"
    assert shown["Tokens launched (B)"].value == f"{b['tokens_launched']:,}"
    change = b["tokens_launched"] - a["tokens_launched"]
    assert shown["Tokens launched (B)"].delta == f"{'-' if change < 0 else '+'}{abs(change):,}"


def test_a_window_keeps_only_the_periods_inside_it(db):
    rows = compare_performance(db)
    first_day = rows[1]["effective_from"][:10]
    from datetime import date

    at = open_page(PERFORMANCE, user="vic")
    at.date_input(key="performance_window").set_value((date.fromisoformat(first_day),
                                                       date.fromisoformat(first_day))).run()
    no_exception(at)
    assert len(at.dataframe[0].value) < len(rows)


def test_the_table_shows_readable_times_and_no_none(db):
    at = open_page(PERFORMANCE, user="vic")
    table = at.dataframe[0].value
    assert not table.isna().any().any()
    assert "None" not in table.astype(str).to_numpy()
    assert list(table["until"])[-1] == "now (live)"
    assert all(len(t) == 16 for t in table["from"])  # YYYY-MM-DD HH:MM, no microseconds


def test_the_default_comparison_skips_a_period_that_has_just_started(plain_db):
    from decimal import Decimal
    from core.allocation.validation import ProposalInput
    from core.proposals.lifecycle import propose_allocation, review_proposal
    filed = propose_allocation(plain_db, ProposalInput(75, 15, 6, 4, reasoning="now",
                                                       confidence=Decimal("0.9")), by="ann")
    review_proposal(plain_db, filed.proposal_id, "approved", by="gus")
    at = open_page(PERFORMANCE, user="vic")
    no_exception(at)
    rows = compare_performance(plain_db)
    # Only two periods: the young one cannot be avoided, and the page says so.
    assert at.selectbox(key="performance_b").value == rows[-1]["allocation_id"]
    assert "has run less than a day" in "\n".join(c.value for c in at.caption)


def test_the_window_and_the_periods_live_in_the_address(db):
    from streamlit.testing.v1 import AppTest
    from tests.app.helpers import ROOT, TIMEOUT, sign_in_as
    rows = compare_performance(db)
    at = open_page(PERFORMANCE, user="vic")
    at.selectbox(key="performance_a").set_value(rows[0]["allocation_id"]).run()
    assert at.query_params["a"] in (rows[0]["allocation_id"], [rows[0]["allocation_id"]])
    shared = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    sign_in_as(shared, "gus")
    shared.query_params["a"] = rows[0]["allocation_id"]
    shared.query_params["b"] = rows[1]["allocation_id"]
    shared.switch_page(PERFORMANCE).run()
    no_exception(shared)
    assert shared.selectbox(key="performance_a").value == rows[0]["allocation_id"]
    assert shared.selectbox(key="performance_b").value == rows[1]["allocation_id"]
