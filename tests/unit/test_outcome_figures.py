"""The outcomes timeline is handed to plotly unvalidated (validation took 0.3 s at 500 periods):
it must already be exactly what validation would make of it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from core.allocation.split import Split
from core.platform_data.outcomes import Outcome
from core.experiments.views import BlockSpan
from ui.outcome_figures import BLOCKS_NAME, MARKERS_NAME, timeline

START = datetime(2026, 3, 1, tzinfo=UTC)


def outcome(index: int, split: Split, previous: Split | None, start: datetime,
            until: datetime | None) -> Outcome:
    return Outcome(allocation_id=f"id-{index}", split=split, previous_split=previous,
                   effective_from=start, effective_until=until, proposed_by="human",
                   proposer="sam", reviewed_by="vic" if previous else None,
                   review_notes="<b>ok</b>" if index == 1 else None,
                   reasoning="A reason that is long enough to wrap over more than one line of "
                             "the hover, with <tags> in it. " * 3,
                   confidence=Decimal("0.8"), window_days=14, before_days=None, after_days=None)


def example() -> tuple[pd.DataFrame, list[Outcome]]:
    a, b = Split.of(80, 15, 3, 2), Split.of(75, 15, 6, 4)
    cuts = [START, START + timedelta(days=9), START + timedelta(days=9, minutes=5),
            START + timedelta(days=20)]
    outcomes = [outcome(0, a, None, cuts[0], cuts[1]), outcome(1, b, a, cuts[1], cuts[2]),
                outcome(2, a, b, cuts[2], cuts[3]), outcome(3, b, a, cuts[3], None)]
    days = [date(2026, 3, 1) + timedelta(days=d) for d in range(25)]
    frame = pd.DataFrame({"tokens_per_day": [float(d) if d % 7 else float("nan") for d in range(25)]},
                         index=days)
    return frame, outcomes


def as_json(fig: go.Figure) -> dict:
    return json.loads(pio.to_json(fig, validate=False))


def test_the_unvalidated_timeline_equals_its_validated_self():
    frame, outcomes = example()
    fig = timeline(frame, "tokens_per_day", outcomes, now=START + timedelta(days=25))
    assert as_json(fig) == as_json(go.Figure(fig.to_dict()))


def test_the_timeline_has_a_band_per_period_and_a_marker_per_activation():
    frame, outcomes = example()
    spec = as_json(timeline(frame, "tokens_per_day", outcomes, now=START + timedelta(days=25)))
    bands = spec["layout"]["shapes"]
    assert [b["name"] for b in bands] == [f"period id-{i}" for i in range(4)]
    assert bands[0]["fillcolor"] == bands[2]["fillcolor"] != bands[1]["fillcolor"]
    assert bands[1]["label"]["text"] == ""  # five minutes wide: too narrow for its label
    assert bands[3]["x1"].startswith("2026-03-26")  # the open period runs to now
    markers = next(t for t in spec["data"] if t["name"] == MARKERS_NAME)
    assert len(markers["x"]) == 4 and "approved by vic" in markers["hovertext"][1]


def test_a_timeline_without_periods_is_a_plain_line():
    frame, _ = example()
    spec = as_json(timeline(frame, "tokens_per_day", []))
    assert "shapes" not in spec["layout"] and len(spec["data"]) == 1
    assert as_json(timeline(frame, "tokens_per_day", [])) == as_json(
        go.Figure(timeline(frame, "tokens_per_day", []).to_dict()))


def blocks_example() -> list[BlockSpan]:
    """Two daily blocks of an experiment, the second cut short where it was stopped."""
    start = START + timedelta(days=20)
    return [BlockSpan("e1f2a3b4-0000", 0, 1, "75/15/6/4", start, start + timedelta(days=1), "id-3"),
            BlockSpan("e1f2a3b4-0000", 1, 0, "80/15/3/2", start + timedelta(days=1),
                      start + timedelta(days=1, hours=5), None)]


def test_experiment_blocks_are_strips_in_their_arms_colour_labelled_by_arm_and_stay_valid():
    frame, outcomes = example()
    fig = timeline(frame, "tokens_per_day", outcomes, now=START + timedelta(days=25),
                   blocks=blocks_example())
    assert as_json(fig) == as_json(go.Figure(fig.to_dict()))
    spec = as_json(fig)
    bands = {b["name"]: b for b in spec["layout"]["shapes"]}
    first, second = bands["experiment e1f2a3b4-0000 block 0"], bands["experiment e1f2a3b4-0000 block 1"]
    assert first["fillcolor"] == bands["period id-1"]["fillcolor"]  # 75/15/6/4's own colour
    assert second["fillcolor"] == bands["period id-0"]["fillcolor"]  # the control's
    assert first["label"]["text"] == "75/15/6/4 (arm 1)"
    assert second["label"]["text"] == ""  # five hours of a 25-day chart: too narrow to label
    marks = next(t for t in spec["data"] if t["name"] == BLOCKS_NAME)
    assert marks["hovertext"][1].startswith("experiment e1f2a3b4, block 2: 80/15/3/2 (control)")


def test_blocks_alone_still_make_a_valid_timeline():
    frame, _ = example()
    fig = timeline(frame, "tokens_per_day", [], blocks=blocks_example())
    assert as_json(fig) == as_json(go.Figure(fig.to_dict()))
    assert len(as_json(fig)["layout"]["shapes"]) == 2
