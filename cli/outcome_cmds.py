"""Commands of the outcomes issue: what followed each change of the split, and the backtest."""

from __future__ import annotations

import typer

from cli.common import JsonOption, database, emit, refusals, table
from core.base.formatting import number, percent

app = typer.Typer()


def register(root: typer.Typer) -> None:
    root.registered_commands.extend(app.registered_commands)


def _change(figure: dict) -> str:
    from core.platform_data import outcomes
    if figure["change_pct"] is None:
        return outcomes.NOT_ENOUGH_DATA
    ci = figure["ci95"]
    interval = f" [{number(ci[0], 1, signed=True)}, {number(ci[1], 1, signed=True)}]" if ci else ""
    return f"{percent(figure['change_pct'], signed=True)}{interval}"


@app.command("outcomes")
@refusals
def outcomes_(ctx: typer.Context,
              window_days: int | None = typer.Option(None, "--window-days",
                                                     help="Days before and after each activation "
                                                     "(7, 14 or 30; 14 when not given)."),
              as_json: bool = JsonOption) -> None:
    """Every activation's before/after figures with 95% intervals (an association, not a proof)."""
    # Imported here: numpy, pandas and scipy cost every other command half a second at start-up.
    from core.platform_data import outcomes

    window_days = outcomes.DEFAULT_WINDOW_DAYS if window_days is None else window_days
    data = [o.as_json() for o in outcomes.activation_outcomes(database(ctx), window_days)]
    emit(data, as_json, lambda: table(
        [{"from": d["effective_from"][:16], "split": d["split_label"],
          "days": f"{d['days_before']}/{d['days_after']}" + (" (open)" if d["open"] else ""),
          **{name: _change(d["metrics"][name]) for name in outcomes.FIGURES}} for d in data],
        ["from", "split", "days", *outcomes.FIGURES]))


@app.command("backtest")
@refusals
def backtest_(ctx: typer.Context, reinvestment: str = typer.Option(...),
              dao: str = typer.Option(...), lucky: str = typer.Option(...),
              creator: str = typer.Option(...),
              days: int | None = typer.Option(None, "--days",
                                              help="Replay the distributions of the last N days "
                                              "(90 when not given)."),
              as_json: bool = JsonOption) -> None:
    """The ledger's distributions of the last N days replayed under this split, exactly."""
    from core.allocation import backtest as backtests

    days = backtests.DEFAULT_DAYS if days is None else days
    result = backtests.backtest(database(ctx),
                                backtests.parse_split(reinvestment, dao, lucky, creator), days)

    def human() -> None:
        if not result.distributions:
            typer.echo(f"no distributions in the last {days} days: nothing to replay")
            return
        typer.echo(f"{result.distributions} distributions in the last {days} days, "
                   f"total {result.total}, replayed under {result.split.label()}")
        table([{k: str(v) for k, v in row.items()} for row in result.rows()],
              ["bucket", "actual", "proposed", "difference"])

    emit(result.as_json(), as_json, human)
