"""History: the step chart, the whole log with filters and a CSV, the AI's track record."""

from __future__ import annotations

import io

import pandas as pd

from core.allocations import get_allocation_history
from core.queries import allocation_periods, suggestion_quality
from tests.app.helpers import no_exception, open_page

HISTORY = "pages/4_History.py"


def _table(at) -> pd.DataFrame:
    return at.dataframe[0].value


def test_every_log_row_is_in_the_table_newest_first(db):
    at = open_page(HISTORY, user="vic")
    no_exception(at)
    log = get_allocation_history(db)
    table = _table(at)
    assert list(table["id"]) == [r.id for r in log]
    assert list(table["split"]) == [r.split.label() for r in log]
    assert len(at.get("plotly_chart")) == 1


def test_the_step_chart_has_a_line_per_bucket_through_every_active_period(db):
    import json

    at = open_page(HISTORY, user="vic")
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [t["name"] for t in figure["data"]] == ["Reinvestment", "DAO treasury", "Lucky lottery",
                                                   "Creator rewards"]
    periods = allocation_periods(db)
    assert len(figure["data"][0]["y"]) == len(periods) + 1
    assert figure["data"][0]["y"][:-1] == [p["reinvestment"] for p in periods]


def test_the_log_filters_by_status_and_proposer(db):
    at = open_page(HISTORY, user="vic")
    at.multiselect(key="history_status").set_value(["rejected"]).run()
    no_exception(at)
    rejected = [r.id for r in get_allocation_history(db) if r.status == "rejected"]
    assert list(_table(at)["id"]) == rejected and rejected
    at.multiselect(key="history_status").set_value([]).run()
    at.multiselect(key="history_proposer").set_value(["sam"]).run()
    assert set(_table(at)["proposer"]) == {"sam"}


def test_the_csv_download_holds_the_filtered_rows(db):
    at = open_page(HISTORY, user="vic")
    at.multiselect(key="history_status").set_value(["active"]).run()
    download = at.get("download_button")[0]
    assert download.proto.label == "⬇️ Download these rows as CSV"
    # AppTest does not fetch the file; the page builds it from the very rows on screen.
    shown = _table(at)
    csv = shown.drop(columns=["proposer"]).to_csv(index=False)
    rows = pd.read_csv(io.StringIO(csv))
    assert set(rows["status"]) == {"active"}
    assert len(rows) == sum(r.status == "active" for r in get_allocation_history(db))


def test_ai_suggestion_quality_matches_the_last_30_days(db):
    at = open_page(HISTORY, user="vic")
    quality = suggestion_quality(db, 30)
    shown = {m.label: m.value for m in at.metric}
    assert shown["AI proposals"] == str(quality["proposals"])
    assert shown["Approved"] == str(quality["approved"])
    assert shown["Rejected"] == str(quality["rejected"])
    assert shown["Pending"] == str(quality["pending"])
