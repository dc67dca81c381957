"""Shared plumbing for the `python -m core` commands: the database, output and refusals."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
import typer

from core.errors import DomainError
from core.setup import connect
from db.engine import Database

F = TypeVar("F", bound=Callable[..., Any])

JsonOption = typer.Option(False, "--json", help="Print exactly one JSON document on stdout.")
EXIT_UNAVAILABLE = 1  # not a refusal: nothing was decided, the database was not there


def database(ctx: typer.Context) -> Database:
    """The database named by --db, DATABASE_URL or the default, upgraded if it is behind."""
    root = ctx.find_root()
    if root.obj is None:
        root.obj = {}
    if "db" not in root.obj:
        root.obj["db"] = connect(root.obj.get("url"))
    return root.obj["db"]


def emit(data: Any, as_json: bool, human: Callable[[], None] | None = None) -> None:
    if as_json:
        typer.echo(json.dumps(data, default=str))
    elif human is not None:
        human()
    else:
        typer.echo(json.dumps(data, indent=2, default=str))


def fail(problems: list[str], code: int, as_json: bool) -> None:
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    if as_json:
        typer.echo(json.dumps({"ok": False, "errors": problems}))
    raise typer.Exit(code)


def refusals(func: F) -> F:
    """Turn core's refusals and an unreachable database into clear lines and exit codes."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return func(*args, **kwargs)
        except DomainError as error:
            fail(error.problems, error.exit_code, as_json)
        except sa.exc.OperationalError as error:
            reason = str(error.orig).strip().splitlines()[0] if error.orig else "unreachable"
            fail([f"database: cannot be reached ({reason})"], EXIT_UNAVAILABLE, as_json)
        except (sa.exc.IntegrityError, sa.exc.DataError) as error:
            # DataError: a value the column cannot hold (e.g. a --by name over 64 characters on
            # PostgreSQL); like a constraint, the transaction was rolled back.
            reason = str(error.orig).strip().splitlines()[0] if error.orig else "constraint"
            fail([f"database: refused the change ({reason})"], 3, as_json)
        except sa.exc.ArgumentError as error:
            # A --db / DATABASE_URL that is not a database URL is bad usage, not a crash.
            fail([f"database: not a usable database URL ({error})"], 2, as_json)

    return wrapper  # type: ignore[return-value]


def table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """A plain aligned table for people."""
    if not rows:
        typer.echo("(none)")
        return
    cells = [[str(r.get(c, "") if r.get(c) is not None else "") for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    typer.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for row in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)))


def read_password_stdin() -> str:
    return sys.stdin.readline().rstrip("\n")
