"""Figures of the outcomes: daily series with every split change marked, before/after views.

Change markers follow Grafana's annotations: a band per period, coloured by its split and
labelled with it, and one marker per activation along the bottom whose hover says who approved
the change and why. Plain data in (`core.platform_data.outcomes`), a Plotly figure out; no Streamlit here.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pandas as pd
import plotly.graph_objects as go

from core.experiments.views import BlockSpan
from core.platform_data.outcomes import FIGURES, USD_FIGURES, Outcome
from ui.figures import _LAYOUT

# Qualitative palette: one colour per distinct split, the same split keeping its colour.
PALETTE = ("#2E86AB", "#A23B72", "#F18F01", "#3BB273", "#7768AE", "#E15554", "#4D9078",
           "#C17C74", "#5C80BC", "#D4A017")
MARKERS_NAME = "Split changes"
BLOCKS_NAME = "Experiment blocks"
# Experiment blocks: a strip along the top of the plot, so the period bands stay readable below.
BLOCK_STRIP = (0.92, 1.0)
BLOCK_OPACITY = 0.55
BLOCK_PATTERN = "/"  # the hatching of a bar whose period an experiment's switch opened
BAND_OPACITY = 0.13
LABELLED_BANDS = 40  # a band narrower than 1/40 of the chart goes unlabelled


def _unit(figure: str) -> str:
    """The hover's prefix: `$` for the figures recorded in US dollars (d3's `,.4~f` already
    writes every digit of the whole part, never an exponent)."""
    return "$" if figure in USD_FIGURES else ""


def split_colours(labels: Sequence[str]) -> dict[str, str]:
    """Split label -> colour, in order of first appearance (periods oldest first), so a split
    has the same colour on every chart built from the same periods."""
    colours: dict[str, str] = {}
    for label in labels:
        colours.setdefault(label, PALETTE[len(colours) % len(PALETTE)])
    return colours


def who_and_why(outcome: Outcome) -> str:
    """The hover of a marker: the split, who proposed and approved it, and why (HTML lines)."""
    approved = (f"approved by {outcome.reviewed_by}" if outcome.reviewed_by
                else "in force from the start (never reviewed)")
    notes = f": {outcome.review_notes}" if outcome.review_notes else ""
    why = "<br>".join(textwrap.wrap(outcome.reasoning, 70)[:4])
    return (f"<b>{outcome.split.label()}</b> from {outcome.effective_from:%Y-%m-%d %H:%M} UTC<br>"
            f"proposed by {outcome.proposer or outcome.proposed_by} ({outcome.proposed_by}), "
            f"{approved}{notes}<br>{why}")


def _band_end(outcome: Outcome, last_day: datetime) -> datetime:
    return outcome.effective_until or max(last_day, outcome.effective_from)


def _bands(outcomes: Sequence[Outcome], end: datetime, colours: dict[str, str]) -> list[dict]:
    """A rectangle per period, written as plotly's validation would leave it (nested dicts, no
    `line_width` shorthands): it is handed over unvalidated (see add_change_markers)."""
    span = (_band_end(outcomes[-1], end) - outcomes[0].effective_from) if outcomes else None
    bands = []
    for outcome in outcomes:
        label = outcome.split.label()
        stop = _band_end(outcome, end)
        # A label on a band too narrow to hold it would only overprint its neighbours; the
        # marker's hover still names the split.
        wide = span is not None and (stop - outcome.effective_from) >= span / LABELLED_BANDS
        bands.append({"type": "rect", "xref": "x", "yref": "y domain", "x0": outcome.effective_from,
                      "x1": stop, "y0": 0, "y1": 1, "fillcolor": colours[label],
                      "opacity": BAND_OPACITY, "line": {"width": 0}, "layer": "below",
                      "name": f"period {outcome.allocation_id}",
                      "label": {"text": label if wide else "", "textposition": "top left",
                                "font": {"size": 11}}})
    return bands


def _markers(outcomes: Sequence[Outcome], colours: dict[str, str]) -> list[dict]:
    """A marker per activation along the bottom, its hover saying who approved it and why."""
    if not outcomes:
        return []
    return [{"type": "scatter", "x": [o.effective_from for o in outcomes],
             "y": [0.0] * len(outcomes), "yaxis": "y2", "mode": "markers", "name": MARKERS_NAME,
             "hovertext": [who_and_why(o) for o in outcomes],
             "hovertemplate": "%{hovertext}<extra></extra>", "cliponaxis": False,
             "marker": {"symbol": "triangle-up", "size": 13, "line": {"width": 1, "color": "#333"},
                        "color": [colours[o.split.label()] for o in outcomes]}}]


def block_hover(span: BlockSpan) -> str:
    """What a marked block says: which experiment, which block, which arm ran."""
    return (f"experiment {span.experiment_id[:8]}, block {span.index + 1}: {span.label()}<br>"
            f"{span.starts_at:%Y-%m-%d %H:%M} .. {span.ends_at:%Y-%m-%d %H:%M} UTC")


def _block_strips(spans: Sequence[BlockSpan], colours: dict[str, str],
                  span: timedelta | None) -> list[dict]:
    """A shaded strip per experiment block along the top, in its arm's split colour (the colour
    of the period band below it) and labelled with the arm where it is wide enough."""
    low, high = BLOCK_STRIP
    strips = []
    for block in spans:
        wide = span is not None and (block.ends_at - block.starts_at) >= span / LABELLED_BANDS
        strips.append({"type": "rect", "xref": "x", "yref": "y domain", "x0": block.starts_at,
                       "x1": block.ends_at, "y0": low, "y1": high,
                       "fillcolor": colours.setdefault(block.split_label,
                                                       PALETTE[len(colours) % len(PALETTE)]),
                       "opacity": BLOCK_OPACITY, "line": {"width": 1, "color": "#333"},
                       "layer": "above",
                       "name": f"experiment {block.experiment_id} block {block.index}",
                       "label": {"text": block.label() if wide else "",
                                 "textposition": "middle center", "font": {"size": 10}}})
    return strips


def _block_markers(spans: Sequence[BlockSpan], colours: dict[str, str]) -> list[dict]:
    """A marker in the middle of each strip, whose hover names the block and its arm (a strip
    too narrow for its label still says it this way)."""
    if not spans:
        return []
    return [{"type": "scatter", "x": [b.starts_at + (b.ends_at - b.starts_at) / 2 for b in spans],
             "y": [sum(BLOCK_STRIP) / 2] * len(spans), "yaxis": "y2", "mode": "markers",
             "name": BLOCKS_NAME, "hovertext": [block_hover(b) for b in spans],
             "hovertemplate": "%{hovertext}<extra></extra>", "cliponaxis": False,
             "marker": {"symbol": "square", "size": 9, "line": {"width": 1, "color": "#333"},
                        "color": [colours[b.split_label] for b in spans]}}]


def timeline(frame: pd.DataFrame, figure: str, outcomes: Sequence[Outcome],
             now: datetime | None = None, blocks: Sequence[BlockSpan] = ()) -> go.Figure:
    """One figure's daily values with a band per period and a marker per activation (the open
    band ends `now`); each experiment block that ran (`blocks`) a shaded strip along the top,
    in its arm's colour and labelled with it.

    Written in the form plotly's validation leaves a figure in (nested dicts, no `line_width`
    shorthands) and handed over unvalidated: validation checks every property of every shape
    and marker, 0.3 s at 500 periods on every run of the page. A test holds this figure equal
    to what validation makes of it."""
    now = now or datetime.now(UTC)
    colours = split_colours([o.split.label() for o in outcomes])
    line = {"type": "scatter", "x": list(frame.index), "y": frame[figure].tolist(),
            "mode": "lines+markers", "name": FIGURES[figure], "marker": {"size": 4},
            "line": {"color": "#333"}, "connectgaps": False,
            "hovertemplate": f"%{{x|%Y-%m-%d}}: {_unit(figure)}%{{y:,.4~f}}<extra></extra>"}
    layout = {"title": {"text": FIGURES[figure]}, "height": 420, "hovermode": "closest",
              **_LAYOUT}
    if outcomes:
        layout["shapes"] = _bands(outcomes, now, colours)
    if blocks:
        first = min([*(o.effective_from for o in outcomes[:1]), blocks[0].starts_at])
        last = max([*(_band_end(o, now) for o in outcomes[-1:]), blocks[-1].ends_at])
        layout["shapes"] = [*layout.get("shapes", []),
                            *_block_strips(blocks, colours, last - first)]
    if outcomes or blocks:
        layout["yaxis2"] = {"overlaying": "y", "range": [0, 1], "visible": False,
                            "fixedrange": True}
    return go.Figure({"data": [line, *_markers(outcomes, colours),
                               *_block_markers(blocks, colours)], "layout": layout},
                     _validate=False)


def before_after(frame: pd.DataFrame, figure: str, outcome: Outcome) -> go.Figure:
    """The selected change's window: the daily values before and after, and their means."""
    fig = go.Figure()
    for name, days, colour in (("before", outcome.before_days, "#B0B7C3"),
                               ("after", outcome.after_days, "#2E86AB")):
        if days is None:
            continue
        part = frame.loc[days[0]:days[1], figure]
        fig.add_trace(go.Bar(x=list(part.index), y=part, name=name, marker_color=colour,
                             hovertemplate=f"%{{x|%Y-%m-%d}}: {_unit(figure)}%{{y:,.4~f}}"
                                           f"<extra>{name}</extra>"))
        if part.notna().any():
            fig.add_trace(go.Scatter(x=[days[0], days[1]], y=[part.mean()] * 2, mode="lines",
                                     name=f"mean {name}", line=dict(color=colour, dash="dash")))
    fig.add_vline(x=outcome.effective_from, line_dash="dot", line_color="#A23B72")
    fig.update_layout(title=f"{FIGURES[figure]} around {outcome.split.label()}", height=340,
                      **_LAYOUT)
    return fig


def mark_period_bars(fig: go.Figure, frame: pd.DataFrame, periods: Sequence[dict],
                     blocks: Sequence[BlockSpan] = ()) -> go.Figure:
    """Per-period bars (`ui.figures.period_bars` of `core.platform_data.queries.compare_performance` rows)
    coloured by split like the bands of the timeline, the hover saying who approved it and why.
    A period an experiment's switch opened (`blocks`) is hatched and its hover names the block
    and its arm."""
    colours = split_colours([p["split"] for p in periods])
    by_id = {p["allocation_id"]: p for p in periods}
    opened_by = {b.allocation_id: b for b in blocks if b.allocation_id}
    hover = []
    for allocation_id in frame["allocation_id"]:
        period = by_id.get(allocation_id, {})
        approved = (f"approved by {period['reviewed_by']}" if period.get("reviewed_by")
                    else "never reviewed (the default)")
        why = "<br>".join(textwrap.wrap(period.get("reasoning") or "", 70)[:3])
        block = opened_by.get(allocation_id)
        hover.append((f"{block_hover(block)}<br>" if block else "")
                     + f"proposed by {period.get('proposed_by', '?')}, {approved}<br>{why}")
    fig.update_traces(marker_color=[colours.get(s, PALETTE[0]) for s in frame["split"]],
                      marker_pattern_shape=[BLOCK_PATTERN if a in opened_by else ""
                                            for a in frame["allocation_id"]],
                      hovertext=hover,
                      hovertemplate="%{x}<br>%{customdata}<br>%{hovertext}<extra></extra>")
    return fig


# --- one experiment's schedule -------------------------------------------------------------------

HIDDEN_NAME = "not started: its arm stays secret"
HIDDEN_COLOUR = "#D5D8DC"


def schedule_chart(planned: Sequence[tuple[datetime, datetime]], arms: Sequence[str],
                   ran: dict[int, int], revealed: Sequence[int] | None = None) -> go.Figure:
    """An experiment's blocks along time: each block that has started (`ran`: block -> arm) in
    its arm's colour, one legend entry per arm; every other block grey and without its arm, so
    the chart reveals no more than the published hash until the end (`revealed`: the whole
    schedule, once it is public, names the arms of the blocks that never ran)."""
    fig = go.Figure()
    for arm, label in enumerate(arms):
        mine = [i for i, a in sorted(ran.items()) if a == arm]
        _block_bars(fig, planned, mine, f"{label}{' (control)' if arm == 0 else ''}",
                    PALETTE[arm % len(PALETTE)], [f"block {i + 1}: {label}" for i in mine])
    rest = [i for i in range(len(planned)) if i not in ran]
    if rest:
        name = "never ran" if revealed is not None else HIDDEN_NAME
        hover = [f"block {i + 1}: never ran (its arm was {arms[revealed[i]]})"
                 if revealed is not None else f"block {i + 1}: not started yet" for i in rest]
        _block_bars(fig, planned, rest, name, HIDDEN_COLOUR, hover)
    # The legend above the bars: below them it would sit on the date axis's two-line ticks.
    fig.update_layout(barmode="overlay", height=220, xaxis={"type": "date"},
                      yaxis={"visible": False},
                      **{**_LAYOUT, "legend": {"orientation": "h", "y": 1.25}})
    return fig


def _block_bars(fig: go.Figure, planned: Sequence[tuple[datetime, datetime]],
                indexes: Sequence[int], name: str, colour: str, hover: Sequence[str]) -> None:
    """Horizontal bars from each block's start, as long as the block (a date axis measures a
    bar's length in milliseconds)."""
    if not indexes:
        return
    fig.add_trace(go.Bar(
        orientation="h", y=["blocks"] * len(indexes), name=name, marker_color=colour,
        base=[planned[i][0] for i in indexes],
        x=[(planned[i][1] - planned[i][0]) / timedelta(milliseconds=1) for i in indexes],
        text=[str(i + 1) for i in indexes], textposition="inside", hovertext=list(hover),
        hovertemplate="%{hovertext}<extra></extra>", marker_line={"width": 1, "color": "#fff"}))
