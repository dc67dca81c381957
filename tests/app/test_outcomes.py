"""Outcomes: every split change marked on the daily chart, its outcome with intervals, the
scorecard, and the URL holding the window and the chosen change."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from pathlib import Path

from core.platform_data.csv_import import import_csv
from core.platform_data.outcomes import FIGURES, activation_outcomes
from streamlit.proto.Metric_pb2 import Metric as MetricProto
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
    assert table["Tokens launched per day"].str.contains("95%: ").any()
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


COLOUR = MetricProto.MetricColor


def figure_metrics(at) -> dict:
    return {m.label: m for m in at.metric if m.label in FIGURES.values()}


def test_a_change_is_green_or_red_only_when_its_95_percent_interval_excludes_zero(db):
    outcomes = activation_outcomes(db)
    at = open_page(OUTCOMES, user="vic")
    seen = set()
    for outcome in outcomes[1:-1]:  # every change whose window is complete
        at.selectbox(key="outcomes_change").set_value(outcome.allocation_id).run()
        no_exception(at)
        shown, captions = figure_metrics(at), [c.value for c in at.caption]
        for name, label in FIGURES.items():
            change = outcome.figures[name]
            low_high = change.ci95
            if change.change_pct is None:
                continue
            clear = low_high is not None and (low_high[0] > 0 or low_high[1] < 0)
            expected = (COLOUR.GRAY if not clear
                        else COLOUR.GREEN if change.change_pct > 0 else COLOUR.RED)
            assert shown[label].proto.color == expected, (label, low_high)
            seen.add(clear)
            name_in_sentence = label.removesuffix(" ($)")
            if clear:
                verb = "rose" if change.change_pct > 0 else "fell"
                assert any(c.startswith(f"{name_in_sentence} {verb} ") and "(95%: " in c
                           for c in captions), label
            else:
                assert f"{name_in_sentence}: no clear change" in "\n".join(captions)
    assert seen == {True, False}  # the demo has both kinds


def test_a_change_whose_window_is_still_filling_says_when_to_check_back(db):
    newest = activation_outcomes(db)[-1]  # the default seeded at install, minutes ago
    # The 14 days after it start at the first midnight after it and end 14 days later.
    first = datetime.combine(newest.effective_from.date() + timedelta(days=1), time())
    day = (first + timedelta(days=14)).date().isoformat()
    at = open_page(OUTCOMES, user="vic")
    at.selectbox(key="outcomes_change").set_value(newest.allocation_id).run()
    no_exception(at)
    assert f"(still running: too early: check back on {day})." in all_text(at)
    captions = [c.value for c in at.caption]
    for label in FIGURES.values():
        assert f"{label.removesuffix(' ($)')}: too early: check back on {day}" in "\n".join(captions)
        metric = figure_metrics(at)[label]
        assert metric.proto.color == COLOUR.GRAY or not metric.delta
    table = at.dataframe[0].value
    assert table.iloc[-1]["Tokens launched per day"] == f"too early: check back on {day}"


def test_numbers_read_with_dollars_and_separators_never_an_exponent_or_none(db):
    at = open_page(OUTCOMES, user="vic")
    no_exception(at)
    shown = figure_metrics(at)
    for label in ("Trading volume per day ($)", "Average token price ($)", "DAO treasury ($)"):
        assert shown[label].value.startswith("$"), shown[label].value
    values = [m.value for m in shown.values()] + [m.proto.help for m in shown.values()]
    cells = [str(v) for frame in (at.dataframe[0].value, at.dataframe[1].value)
             for v in frame.to_numpy().ravel()]
    for text in values + cells + [c.value for c in at.caption]:
        assert "e+" not in text and "None" not in text and "nan" not in text, text
    scorecard = at.dataframe[1].value.set_index("proposer")
    assert scorecard.at["Rules engine", "avg confidence"] == "—"  # no proposal: no average
    assert scorecard.at["AI", "avg confidence"].endswith("%")
