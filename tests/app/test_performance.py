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


def test_a_delta_is_coloured_only_when_the_95_percent_interval_of_its_change_excludes_zero(db):
    from core.platform_data.outcomes import compare_periods
    from streamlit.proto.Metric_pb2 import Metric as MetricProto

    colour = MetricProto.MetricColor
    rows = compare_performance(db)
    at = open_page(PERFORMANCE, user="vic")
    seen = set()
    for a, b in ((rows[0], rows[2]), (rows[-3], rows[-2]), (rows[1], rows[3])):
        at.selectbox(key="performance_a").set_value(a["allocation_id"])
        at.selectbox(key="performance_b").set_value(b["allocation_id"]).run()
        no_exception(at)
        changes = compare_periods(db, a["allocation_id"], b["allocation_id"])
        shown = {m.label: m for m in at.metric}
        captions = "\n".join(c.value for c in at.caption)
        for label, column in (("Tokens per day", "tokens_per_day"),
                              ("Volume per day", "volume_per_day")):
            metric, change = shown[f"{label} (B)"], changes[column]
            ci = change.ci95
            clear = ci is not None and (ci[0] > 0 or ci[1] < 0)
            moved = (b[column] > a[column]) == (change.change_pct > 0)
            expected = (colour.GREEN if change.change_pct > 0 else colour.RED) if clear and moved \
                else colour.GRAY
            assert metric.proto.color == expected, (label, ci)
            seen.add(clear)
            if clear:
                verb = "rose" if change.change_pct > 0 else "fell"
                assert f"per day over the whole periods: {label} {verb} " in captions
            else:
                assert f"per day over the whole periods: {label}: no clear change" in captions
        # A figure without an interval (the days, the total count) is never coloured.
        assert shown["Tokens launched (B)"].proto.color == colour.GRAY
        assert shown["Days (B)"].proto.color == colour.GRAY
    assert seen == {True, False}


def test_prices_and_volumes_carry_dollars_and_no_figure_has_an_exponent(db):
    at = open_page(PERFORMANCE, user="vic")
    table = at.dataframe[0].value
    assert all(v == "—" or v.startswith("$") for v in table["avg price"])
    assert all(v.startswith("$") for v in table["volume / day"])
    shown = {m.label: m.value for m in at.metric}
    assert shown["Average price (B)"].startswith("$")
    for text in [*table.astype(str).to_numpy().ravel(), *shown.values()]:
        assert "e+" not in text and "None" not in text and "nan" not in text, text
