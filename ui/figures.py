"""Plotly figure builders. Each takes plain data and returns a figure; no Streamlit here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from core.allocation.split import BUCKET_LABELS, BUCKETS, Split
from ui.format import measured, money, pct

COLORS = {"reinvestment": "#2E86AB", "dao": "#A23B72", "lucky": "#F18F01", "creator": "#3BB273"}
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.15))


def split_donut(split: Split, title: str = "") -> go.Figure:
    fig = go.Figure(go.Pie(
        labels=[BUCKET_LABELS[b] for b in BUCKETS], values=[float(v) for _, v in split.items()],
        hole=0.55, sort=False, direction="clockwise", textinfo="label+percent",
        marker=dict(colors=[COLORS[b] for b in BUCKETS]),
        hovertemplate="%{label}: %{value}%<extra></extra>"))
    fig.update_layout(title=title, showlegend=False, height=340, **{k: v for k, v in _LAYOUT.items()
                                                                   if k != "legend"})
    fig.add_annotation(text=split.label(), showarrow=False, font=dict(size=18))
    return fig


def split_comparison(before: Split, after: Split, before_name: str = "Current",
                     after_name: str = "Proposed") -> go.Figure:
    labels = [BUCKET_LABELS[b] for b in BUCKETS]
    fig = go.Figure([
        go.Bar(name=before_name, x=labels, y=[float(v) for _, v in before.items()],
               marker_color="#B0B7C3", text=[pct(v) for _, v in before.items()]),
        go.Bar(name=after_name, x=labels, y=[float(v) for _, v in after.items()],
               marker_color=[COLORS[b] for b in BUCKETS], text=[pct(v) for _, v in after.items()]),
    ])
    fig.update_layout(barmode="group", yaxis_title="%", height=320, **_LAYOUT)
    return fig


def split_steps(periods: Sequence[dict[str, Any]]) -> go.Figure:
    """One step line per bucket: each active period (`core.platform_data.queries.allocation_periods`) holds
    its value until the next one starts; the last point is where the newest period ends."""
    fig = go.Figure()
    rows = sorted(periods, key=lambda p: p["effective_from"])
    if rows:
        xs = [p["effective_from"] for p in rows] + [rows[-1]["end"]]
        for bucket in BUCKETS:
            ys = [float(p[bucket]) for p in rows]
            fig.add_trace(go.Scatter(x=xs, y=ys + ys[-1:], name=BUCKET_LABELS[bucket],
                                     mode="lines+markers", line=dict(shape="hv", color=COLORS[bucket]),
                                     hovertemplate="%{y}%<extra>" + BUCKET_LABELS[bucket] + "</extra>"))
    fig.update_layout(yaxis_title="% of profit", height=360, **_LAYOUT)
    return fig


def period_bars(frame: pd.DataFrame, column: str, title: str,
                shown: Callable[[Any], str] = measured) -> go.Figure:
    """A bar per period; the hover reads the value as the tables do (`shown`, from `ui.format`)."""
    fig = go.Figure(go.Bar(x=frame["label"], y=frame[column], marker_color="#2E86AB",
                           customdata=[shown(v) for v in frame[column]],
                           hovertemplate="%{x}<br>%{customdata}<extra></extra>"))
    fig.update_layout(title=title, height=300, **_LAYOUT)
    return fig


def cumulative_amounts(days: Sequence[dict[str, Any]]) -> go.Figure:
    """Running totals per bucket, stacked, from `core.platform_data.queries.distribution_totals_over_time`."""
    fig = go.Figure()
    x = [d["day"] for d in days]
    for bucket in BUCKETS:
        amounts = [d[f"cumulative_{bucket}"] for d in days]
        # The line needs floats; the hover shows the exact amount.
        fig.add_trace(go.Scatter(x=x, y=[float(a) for a in amounts],
                                 customdata=[money(a) for a in amounts], name=BUCKET_LABELS[bucket], mode="lines", stackgroup="one",
                                 line=dict(color=COLORS[bucket]),
                                 hovertemplate="%{customdata}<extra>" + BUCKET_LABELS[bucket] + "</extra>"))
    fig.update_layout(yaxis_title="cumulative amount", height=340, **_LAYOUT)
    return fig


def metric_lines(frame: pd.DataFrame, x: str, columns: Sequence[str]) -> go.Figure:
    fig = go.Figure([go.Scatter(x=frame[x], y=frame[c], name=c.replace("_", " "), mode="lines+markers")
                     for c in columns if c in frame])
    fig.update_layout(height=300, **_LAYOUT)
    return fig
