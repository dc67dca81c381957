"""Performance: each allocation period against token launches, per period and per day."""

from __future__ import annotations

from core.queries import compare_performance
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
    at.selectbox(key="performance_a").set_value(0)
    at.selectbox(key="performance_b").set_value(2).run()
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
