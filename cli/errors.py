"""Core's exceptions as the CLI shows them: one stderr line per problem, and the exit code.

The one place the command line maps failures. Core has already translated database errors into
its own exceptions (`core.base.sessions`), so nothing here knows SQLAlchemy's.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import typer

from core.base.errors import Busy, DatabaseFailure, DomainError, InvalidDatabaseUrl, NotFound

F = TypeVar("F", bound=Callable[..., Any])

EXIT_UNAVAILABLE = 1  # not a refusal: nothing was decided (unreachable, busy, a read failed)
EXIT_USAGE = 2  # Typer's own code for bad usage; a URL that is no database URL is one
EXIT_REFUSED = 3  # validation, a governance rule, a conflict: nothing was written
EXIT_NOT_FOUND = 4

# Most specific first: the first class the error is an instance of decides.
EXIT_CODES: tuple[tuple[type[DomainError], int], ...] = (
    (InvalidDatabaseUrl, EXIT_USAGE),
    (DatabaseFailure, EXIT_UNAVAILABLE),
    (Busy, EXIT_UNAVAILABLE),
    (NotFound, EXIT_NOT_FOUND),
    (DomainError, EXIT_REFUSED),
)


def exit_code(error: DomainError) -> int:
    return next(code for kind, code in EXIT_CODES if isinstance(error, kind))


def fail(problems: list[str], code: int, as_json: bool) -> NoReturn:
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    if as_json:
        typer.echo(json.dumps({"ok": False, "errors": problems}))
    raise typer.Exit(code)


def refusals(func: F) -> F:
    """Turn core's refusals and database failures into clear lines and exit codes."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DomainError as error:
            fail(error.problems, exit_code(error), bool(kwargs.get("as_json")))

    return wrapper  # type: ignore[return-value]
