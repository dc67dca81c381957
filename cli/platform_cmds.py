"""Commands of the platform data: import, demo data, metrics, compare, reports and the schedule."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from cli.common import JsonOption, database, emit, refusals, table
from core.allocation.split import BUCKETS
from core.base.formatting import price, usd
from core.base.parsing import parse_instant

app = typer.Typer()
report_app = typer.Typer(help="Reports written to protocol_activity.")


class Kind(str, Enum):
    tokens = "tokens"
    engagement = "engagement"
    treasury = "treasury"


def register(root: typer.Typer) -> None:
    """Add these commands to the root `python -m core` app."""
    root.registered_commands.extend(app.registered_commands)
    root.add_typer(report_app, name="report")


@contextmanager
def _progress_bar(label: str, length: int, shown: bool) -> Iterator[Any]:
    """A progress callback `(done, total)` drawing a bar on stderr, or doing nothing."""
    if not shown:
        yield None
        return
    with typer.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield lambda done, total: bar.update(max(done - bar.pos, 0))


@app.command("import")
@refusals
def import_(ctx: typer.Context, kind: Kind = typer.Argument(..., help="What the file holds."),
            file: Path = typer.Argument(..., metavar="FILE.csv"), as_json: bool = JsonOption) -> None:
    """Load a CSV file (header row required; ISO 8601 dates): all rows or none."""
    from core.platform_data import csv_import  # on use: start-up time of every other command
    db = database(ctx)
    size = file.stat().st_size if file.is_file() else 0
    with _progress_bar(f"importing {file.name}", size, sys.stderr.isatty()) as progress:
        result = csv_import.import_csv(db, kind.value, file, progress)
    emit(result.as_json(), as_json,
         lambda: typer.echo(f"imported {result.rows} rows into {result.table}"))


@app.command("demo-data")
@refusals
def demo_data(ctx: typer.Context, seed: str = typer.Option("7", "--seed", metavar="N"),
              days: str = typer.Option("120", "--days", metavar="N"),
              tokens: str = typer.Option("5000", "--tokens", metavar="N"),
              as_json: bool = JsonOption) -> None:
    """Fill an empty platform with deterministic synthetic data."""
    from core.platform_data import demo  # on use: start-up time of every other command
    db = database(ctx)
    length = int(tokens) if tokens.isascii() and tokens.isdigit() else 0  # core checks it
    with _progress_bar("tokens", length, sys.stderr.isatty()) as progress:
        counts = demo.generate_demo_data(db, seed=seed, days=days, tokens=tokens,
                                         progress=progress)
    emit(counts, as_json, lambda: table(
        [{"table": k, "rows": v} for k, v in counts.items()], ["table", "rows"]))


@app.command("metrics")
@refusals
def metrics_(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Platform metrics computed from the database (the rebalancer's inputs)."""
    from core.platform_data import metrics_store  # on use: start-up time of every other command
    from db.types import utcnow
    db = database(ctx)
    now = utcnow()  # one moment for both reads, so they describe the same window
    values = metrics_store.compute_metrics(db, now)
    inputs = metrics_store.engagement_inputs(db, now)
    data = metrics_store.metrics_as_json(values, inputs)
    emit(data, as_json, lambda: table(
        [{"metric": k, "value": v} for k, v in values.as_json().items()]
        + [{"metric": "(engagement window)",
            "value": f"{inputs.window_start} .. {inputs.window_end}, "
                     f"{inputs.days_with_data} of 7 days with data"}], ["metric", "value"]))


@app.command("compare")
@refusals
def compare(ctx: typer.Context, date_from: str = typer.Option(None, "--from", metavar="DATE"),
            date_to: str = typer.Option(None, "--to", metavar="DATE"),
            as_json: bool = JsonOption) -> None:
    """Allocation periods against token performance, per period and per day."""
    from core.platform_data import queries  # on use: start-up time of every other command
    start, stop = queries.parse_window(date_from, date_to)
    rows = queries.compare_performance(database(ctx), start, stop)
    emit(rows, as_json, lambda: table(
        [{**r, "from": r["window_from"][:16],
          "until": r["window_until"][:16] if r["effective_until"] or date_to else "now",
          "avg_price": price(r["avg_price"]), "total_volume": usd(r["total_volume"], 0),
          "volume_per_day": usd(r["volume_per_day"], 0)}
         for r in rows],
        ["split", "from", "until", "days", "tokens_launched", "avg_price",
         "total_volume", "tokens_per_day", "volume_per_day"]))


@report_app.command("weekly")
@refusals
def weekly(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Write the weekly allocation report to protocol_activity."""
    from core.jobs import reports  # on use: start-up time of every other command
    data = reports.weekly_report(database(ctx))
    split = "/".join(str(data["active_split"][b]) for b in BUCKETS)
    emit(data, as_json, lambda: typer.echo(
        f"weekly report written: split {split}, {data['proposals_count']} "
        f"proposals ({data['approved']} approved, {data['rejected']} rejected, "
        f"{data['pending']} pending), {data['distributions']['count']} distributions "
        f"totalling {data['distributions']['total']}"))


def _instant(value: str | None) -> datetime | None:
    return None if value is None else parse_instant(value, "at")


@app.command("schedule")
@refusals
def schedule_(ctx: typer.Context,
              once: bool = typer.Option(False, "--once", help="Run the jobs due now and exit."),
              at: str = typer.Option(None, "--at", help="With --once: the time to take as now "
                                     "(ISO 8601, UTC if no offset)."),
              rebalance_cron: str = typer.Option(None, "--rebalance-cron"),
              weekly_report_cron: str = typer.Option(None, "--weekly-report-cron"),
              as_json: bool = JsonOption) -> None:
    """Run the daily rebalance and the weekly report on their cron schedules (UTC); with a
    second `schedule` on the same database, one runs and the other stands by (a lease)."""
    from core.jobs import schedule  # on use: start-up time of every other command
    crons = schedule.default_crons()
    crons["rebalance"] = rebalance_cron or crons["rebalance"]
    crons["weekly_report"] = weekly_report_cron or crons["weekly_report"]
    schedule.check_crons(crons)
    db = database(ctx)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if once:
        now = _instant(at) or schedule.utcnow()
        tick = schedule.run_due(db, crons, now)
        emit(tick.as_json(), as_json, lambda: typer.echo(
            "\n".join(f"{o.job}: {'ok' if o.ok else 'failed: ' + str(o.error)}" for o in tick.ran)
            or "no job due"))
        return
    try:
        # Another `schedule` on this database (a second host) waits as a standby: the lease.
        schedule.run_forever(db, crons, lease=schedule.DatabaseLease(db))
    except KeyboardInterrupt:
        logging.getLogger("core.schedule").info("stopped")
