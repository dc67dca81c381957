"""`rebalance`: the profit-rebalancer from the command line (cron, ops, acceptance checks)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cli.common import JsonOption, database, emit, refusals
from core.base.errors import ValidationFailed
from core.base.formatting import decimal_text
from core.base.parsing import MAX_JSON_BYTES, load_json

if TYPE_CHECKING:
    from core.platform_data.metrics_model import PlatformMetrics
    from core.rebalancer.service import RebalanceResult

app = typer.Typer()


class Engine(str, Enum):
    auto = "auto"
    rules = "rules"
    ai = "ai"


def read_metrics_file(path: Path) -> PlatformMetrics:
    """A metrics JSON file, strictly: every problem is one line naming the key (exit 3)."""
    from core.platform_data.metrics_model import PlatformMetrics

    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise ValidationFailed(f"metrics: {path} is larger than {MAX_JSON_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ValidationFailed(f"metrics: cannot read {path} ({reason})") from None
    return PlatformMetrics.from_json(load_json(text, "metrics", source=str(path)))


def _human(result: RebalanceResult) -> None:
    s = result.suggestion
    typer.echo(f"engine:     {s.engine}" + (f" ({s.fallback_reason})" if s.fallback_reason else ""))
    typer.echo(f"current:    {result.current_allocation.label()}  (reinvestment/dao/lucky/creator)")
    typer.echo(f"suggested:  {s.split.label()}  (confidence {decimal_text(s.confidence.normalize())})")
    typer.echo(f"reasoning:  {s.reasoning}")
    outcome = {
        "no_change": "no rebalance needed; nothing filed",
        "dry_run": "dry run: would file this proposal; nothing filed",
        "paused": "rebalancing is paused (policy); nothing filed",
        "already_pending": f"the same split is already waiting for review as proposal "
                           f"{result.proposal_id}; nothing filed",
        "filed": f"proposal {result.proposal_id} filed for review "
                 f"(not auto-approved: {result.auto_approval_note})",
        "activated": f"proposal {result.proposal_id} filed and auto-approved: now active",
    }[result.outcome]
    typer.echo(f"outcome:    {outcome}")


@app.command()
@refusals
def rebalance(ctx: typer.Context,
              metrics: Path = typer.Option(None, "--metrics", metavar="FILE", dir_okay=False,
                                           help="JSON object with the `metrics` fields; else the "
                                           "database's own figures."),
              engine: Engine = typer.Option(Engine.auto, "--engine",
                                            help="auto: the AI advisor when a key is set."),
              dry_run: bool = typer.Option(False, "--dry-run", help="Suggest only; file nothing."),
              by: str = typer.Option(None, "--by", help="The acting account (analyst or above)."),
              scheduled: bool = typer.Option(False, "--scheduled",
                                             help="Act as the built-in system:scheduler (cron)."),
              as_json: bool = JsonOption) -> None:
    """Analyse the metrics, suggest a split, file it as a proposal when a rebalance is due."""
    from core.rebalancer.service import run_rebalance

    figures = read_metrics_file(metrics) if metrics is not None else None
    result = run_rebalance(database(ctx), metrics=figures, engine=engine.value, dry_run=dry_run,
                           by=by, scheduled=scheduled)
    if result.suggestion.fallback_reason:
        typer.echo(f"warning: {result.suggestion.fallback_reason}", err=True)
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    emit(result.as_json(), as_json, lambda: _human(result))

