"""Outcomes: every split change marked on the daily chart, its outcome with intervals, the
scorecard, and the URL holding the window and the chosen change."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from core.platform_data.csv_import import import_csv
from core.platform_data.outcomes import activation_outcomes
from streamlit.testing.v1 import AppTest

from db.types import utcnow
from tests.app.helpers import ROOT, TIMEOUT, all_text, no_exception, open_page, sign_in_as

OUTCOMES = "pages/9_Outcomes.py"


def timeline(at) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def markers(spec: dict) -> list:
    return next(t for t in spec["data"] if t.get("name") == "Split changes")["x"]


def test_every_activation_has_one_marker_and_one_band_and_every_change_a_row(db):
    at = open_page(OUTCOMES, user="vic")
    no_exception(at)
    outcomes = activation_outcomes(db)
    spec = timeline(at)
    assert len(markers(spec)) == len(outcomes) == 6  # the demo's five splits and the default
    bands = [s for s in spec["layout"]["shapes"] if s.get("name", "").startswith("period ")]
    assert [b["name"] for b in bands] == [f"period {o.allocation_id}" for o in outcomes]
    # Every band wide enough is labelled with its split; the default seeded minutes ago is a
    # sliver, named by its marker's hover instead.
    assert [b["label"]["text"] for b in bands] == [o.split.label() for o in outcomes[:-1]] + [""]
    table = at.dataframe[0].value
    assert list(table["split"]) == [o.split.label() for o in outcomes[1:]]
    assert table["Tokens launched per day"].str.contains("95 %").any()
    hover = next(t for t in spec["data"] if t.get("name") == "Split changes")["hovertext"]
    assert "approved by dana" in hover[1] and outcomes[1].reasoning[:30] in hover[1]


def test_the_window_and_the_change_are_read_from_and_written_to_the_url(db):
    outcomes = activation_outcomes(db, 7)
    chosen = outcomes[2]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    sign_in_as(at, "vic")
    at.query_params["window"] = "7"
    at.query_params["change"] = chosen.allocation_id
    at.switch_page(OUTCOMES)
    at.run()
    no_exception(at)
    assert at.selectbox(key="outcomes_change").value == chosen.allocation_id
    assert f"{chosen.previous_split.label()} → {chosen.split.label()}" in all_text(at)
    assert f"{chosen.days_before} days before" in all_text(at)
    assert len(at.get("plotly_chart")) == 2  # the timeline and the chosen change's window
    at.button_group(key="outcomes_window").set_value(30).run()
    no_exception(at)
    assert at.query_params["window"] == "30"
    wider = activation_outcomes(db, 30)[2]
    assert f"{wider.days_before} days before, {wider.days_after} after" in all_text(at)
    assert at.query_params["change"] == chosen.allocation_id


def test_the_scorecard_counts_the_demo_proposals_per_kind(db):
    at = open_page(OUTCOMES, user="vic")
    scores = at.dataframe[1].value.set_index("proposer")
    assert (scores.at["AI", "proposals"], scores.at["AI", "approved"]) == (7, 4)
    assert (scores.at["Manual", "proposals"], scores.at["Manual", "rejected"]) == (1, 1)
    assert scores.at["Rules engine", "proposals"] == 0
    assert len(at.get("download_button")) == 2  # the outcomes and the scorecard as CSV


def test_an_install_with_a_single_period_shows_its_band_and_no_change(plain_db, tmp_path: Path):
    csv = tmp_path / "tokens.csv"
    now = utcnow()
    csv.write_text("symbol,name,price,volume_24h,created_at\n" + "".join(
        f"T{i},Token {i},1.5,{100 + i},{(now - timedelta(days=i, hours=3)).isoformat()}\n"
        for i in range(1, 20)))
    import_csv(plain_db, "tokens", csv)
    at = open_page(OUTCOMES, user="vic")
    no_exception(at)
    spec = timeline(at)
    assert len(markers(spec)) == 1
    assert "Only one split so far" in all_text(at)
    assert not at.dataframe[0].value.empty  # the scorecard is still there


def test_an_install_without_tokens_says_the_token_figures_have_no_data(plain_db):
    at = open_page(OUTCOMES, user="vic")
    no_exception(at)
    assert "No token launches recorded yet" in all_text(at)
    assert len(markers(timeline(at))) == 1
