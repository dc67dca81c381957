"""`rollup rebuild` / `rollup check`: the token activity roll-up against the raw table."""

from __future__ import annotations

import typer

from cli.common import JsonOption, database, emit, refusals

app = typer.Typer(help="The token activity roll-up (pre-aggregated launches, prices, volumes).",
                  no_args_is_help=True)


@app.command("rebuild")
@refusals
def rebuild(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Rebuild the roll-up from the raw tokens table (one transaction)."""
    from core.platform_data import rollup

    result = rollup.rebuild(database(ctx))
    emit(result, as_json, lambda: typer.echo(f"roll-up rebuilt: {result['buckets']} buckets"))


@app.command("check")
@refusals
def check(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Compare the roll-up with the raw table; exit 3 when any bucket differs."""
    from core.platform_data import rollup

    result = rollup.check(database(ctx))
    emit(result, as_json, lambda: typer.echo(
        f"{result['buckets']} buckets, {result['mismatches']} mismatches"))
    if result["mismatches"]:
        typer.echo(f"error: rollup: {result['mismatches']} buckets differ from the raw tokens "
                   "table; run `python -m core rollup rebuild`", err=True)
        raise typer.Exit(3)
