"""History: the step chart, the whole log with filters and a CSV, the AI's track record."""

from __future__ import annotations

import codecs
import io
import json

import pandas as pd
import pytest

from core.platform_data.queries import allocation_periods, suggestion_quality
from core.proposals.lifecycle import get_allocation_history
from streamlit.testing.v1 import AppTest

from tests.app.helpers import ROOT, TIMEOUT, no_exception, open_page, sign_in_as

HISTORY = "pages/4_History.py"


_DOWNLOADS: dict[str, bytes] = {}


@pytest.fixture(autouse=True)
def _kept_downloads(monkeypatch):
    """AppTest's media store lives for one run only: keep what download buttons hand over, by
    the file id their URL names (Streamlit's storage wrapped, not our code)."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    original = MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        if isinstance(path_or_data, bytes):
            _DOWNLOADS[file_id] = path_or_data
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    yield
    _DOWNLOADS.clear()


def _download(element) -> str:
    """The bytes behind a download button, as the browser would fetch them; a spreadsheet needs
    the UTF-8 byte-order mark first to read ü and € right."""
    file_id = element.proto.url.rsplit("/", 1)[-1].split(".")[0]
    data = _DOWNLOADS[file_id]
    assert data.startswith(codecs.BOM_UTF8)
    return data.decode("utf-8-sig")


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
    rows = pd.read_csv(io.StringIO(_download(download)))
    assert set(rows["status"]) == {"active"}
    assert len(rows) == sum(r.status == "active" for r in get_allocation_history(db))
    assert list(rows["id"]) == list(_table(at)["id"])


def test_the_csv_writes_input_metrics_as_json_and_neutralises_formulas(plain_db):
    from decimal import Decimal
    from core.allocation.validation import ProposalInput
    from core.proposals.lifecycle import propose_allocation
    propose_allocation(plain_db, ProposalInput(75, 15, 6, 4, reasoning='=HYPERLINK("http://x.example","y")',
                                               confidence=Decimal("0.9"),
                                               input_metrics={"manual": True}), by="ann")
    at = open_page(HISTORY, user="vic")
    rows = pd.read_csv(io.StringIO(_download(at.get("download_button")[0])))
    filed = rows[rows["status"] == "proposed"].iloc[0]
    assert filed["reasoning"] == '\'=HYPERLINK("http://x.example","y")'
    assert json.loads(filed["input_metrics"]) == {"manual": True}


def test_the_csv_has_each_bucket_once_every_approver_and_the_end_of_a_closed_period(plain_db):
    from core.allocation.validation import ProposalInput
    from core.governance.policy_store import set_policy
    from core.proposals.lifecycle import propose_allocation, review_proposal

    set_policy(plain_db, "approvals_required", "2", by="ada")
    first = propose_allocation(plain_db, ProposalInput(78, 15, 4, 3, reasoning="Grüße: 5 € more"),
                               by="ann").proposal_id
    review_proposal(plain_db, first, "approved", by="gus")
    review_proposal(plain_db, first, "approved", by="gil")
    second = propose_allocation(plain_db, ProposalInput(76, 15, 5, 4, reasoning="again"),
                                by="ann").proposal_id
    review_proposal(plain_db, second, "approved", by="gil")
    review_proposal(plain_db, second, "approved", by="gus")
    at = open_page(HISTORY, user="vic")
    text = _download(at.get("download_button")[0])
    header = text.splitlines()[0].split(",")
    assert len(header) == len(set(header))
    assert [c for c in header if "reinvestment" in c] == ["reinvestment_pct"]
    rows = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False).set_index("id")
    log = {r.id: r for r in get_allocation_history(plain_db)}
    assert rows.at[first, "approved_by"] == "gus; gil"  # both, in the order they approved
    assert rows.at[second, "approved_by"] == "gil; gus"
    assert rows.at[first, "reviewed_by"] == "gil"  # the approval that decided it
    assert (rows.at[first, "status"], rows.at[first, "period"]) == ("active", "closed")
    assert rows.at[first, "period_end"] == log[first].effective_until.isoformat()
    assert rows.at[first, "period_end"] == rows.at[second, "period_start"]
    assert (rows.at[second, "period"], rows.at[second, "period_end"]) == ("in force", "")
    assert rows.at[first, "reasoning"] == "Grüße: 5 € more"
    assert (rows.at[first, "reinvestment_pct"], rows.at[first, "creator_pct"]) == ("78", "3")
    assert "80" in set(rows["reinvestment_pct"])  # the default's 80.00: never 8E+1


def test_the_table_says_a_replaced_split_is_closed_with_its_end_as_the_csv_does(plain_db):
    from core.allocation.validation import ProposalInput
    from core.proposals.lifecycle import propose_allocation, review_proposal

    first = propose_allocation(plain_db, ProposalInput(78, 15, 4, 3, reasoning="first"),
                               by="ann").proposal_id
    review_proposal(plain_db, first, "approved", by="gus")
    second = propose_allocation(plain_db, ProposalInput(76, 15, 5, 4, reasoning="second"),
                                by="ann").proposal_id
    review_proposal(plain_db, second, "approved", by="gil")
    at = open_page(HISTORY, user="vic")
    no_exception(at)
    table = _table(at).set_index("id")
    assert (table.at[first, "status"], table.at[first, "period"]) == ("active", "closed")
    assert (table.at[second, "status"], table.at[second, "period"]) == ("active", "in force")
    assert table.at[first, "period_end"] == table.at[second, "period_start"]
    log = {r.id: r for r in get_allocation_history(plain_db)}
    assert table.at[first, "period_end"] == log[first].effective_until
    assert pd.isna(table.at[second, "period_end"])
    assert table.at[first, "approved_by"] == "gus"
    csv = pd.read_csv(io.StringIO(_download(at.get("download_button")[0])), dtype=str,
                      keep_default_na=False).set_index("id")
    for column in ("status", "period", "approved_by"):
        assert list(table[column].fillna("")) == list(csv.loc[table.index, column]), column


def test_the_filters_live_in_the_address_so_a_link_shows_the_same_view(db):
    at = open_page(HISTORY, user="vic")
    at.multiselect(key="history_status").set_value(["rejected"]).run()
    assert at.query_params["status"] in ("rejected", ["rejected"])
    shared = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    sign_in_as(shared, "gus")
    shared.query_params["status"] = "rejected"
    shared.switch_page(HISTORY).run()
    no_exception(shared)
    assert shared.multiselect(key="history_status").value == ["rejected"]
    assert list(_table(shared)["id"]) == list(_table(at)["id"])


def test_ai_suggestion_quality_matches_the_last_30_days(db):
    at = open_page(HISTORY, user="vic")
    quality = suggestion_quality(db, 30)
    shown = {m.label: m.value for m in at.metric}
    assert shown["AI proposals"] == str(quality["proposals"])
    assert shown["Approved"] == str(quality["approved"])
    assert shown["Rejected"] == str(quality["rejected"])
    assert shown["Pending"] == str(quality["pending"])
