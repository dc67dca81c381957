"""The audit: checking that the record proves itself (core/record/audit.py)."""

from __future__ import annotations

import typer

from cli.common import JsonOption, database, emit, refusals
from cli.errors import EXIT_REFUSED

audit_app = typer.Typer(help="The record's MACs (the audit key lives outside the database).")


@audit_app.command("verify")
@refusals
def audit_verify(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Check every chain and every row's MAC; exit 3 naming the first broken row, if any."""
    from core.record.audit import verify_record

    report = verify_record(database(ctx))

    def human() -> None:
        typer.echo(f"{report.rows} rows checked: " + ("every MAC verifies" if report.ok else
                   f"{len(report.broken) + report.more_broken} broken"))
        for broken in report.broken:
            typer.echo(f"  {broken.table} {broken.id}: {broken.reason}")

    emit(report.as_json(), as_json, human)
    if not report.ok:
        first = report.broken[0]
        typer.echo(f"error: audit: {first.table} row {first.id} is broken ({first.reason})",
                   err=True)
        raise typer.Exit(EXIT_REFUSED)
