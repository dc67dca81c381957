"""Shared plumbing for the `python -m core` commands: the database and output (refusals: errors.py).

Command modules import core's services inside the commands, not at the top: reading argv must
cost Typer and these modules only, so each command pays for its own imports and no other's (the
start-up budget, tests/integration/test_startup.py).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer

from cli.errors import refusals  # noqa: F401 - re-exported: the commands import their plumbing here
from core.base.json_safe import finite

if TYPE_CHECKING:
    from db.engine import Database

JsonOption = typer.Option(False, "--json", help="Print exactly one JSON document on stdout.")


def database(ctx: typer.Context) -> Database:
    """The database named by --db, DATABASE_URL or the default, upgraded if it is behind."""
    root = ctx.find_root()
    if root.obj is None:
        root.obj = {}
    if "db" not in root.obj:
        from core.database import connect

        root.obj["db"] = connect(root.obj.get("url"))
        # Closed when the command ends, not left to the interpreter's exit (core/__main__.py).
        root.call_on_close(root.obj["db"].engine.dispose)
    return root.obj["db"]


def cli_channel() -> dict[str, str]:
    """Who runs this command, for `metadata.via` of every activity row it writes: the OS user
    (getpass reads LOGNAME/USER, then the password database; a container may have neither) and
    the host."""
    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):
        os_user = f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return {"channel": "cli", "os_user": os_user, "host": socket.gethostname() or "unknown"}


def emit(data: Any, as_json: bool, human: Callable[[], None] | None = None) -> None:
    if as_json:
        typer.echo(json.dumps(finite(data), default=str, allow_nan=False))
    elif human is not None:
        human()
    else:
        typer.echo(json.dumps(finite(data), indent=2, default=str, allow_nan=False))


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
