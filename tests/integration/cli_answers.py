"""What a command run in process (the `run` fixture) answered: its JSON, or a clear refusal."""

from __future__ import annotations

import json
from typing import Any

from click.testing import Result


def ok(result: Result) -> Any:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def refused(result: Result, code: int, fragment: str, *, answer_json: bool = True) -> str:
    """Exit `code`, one `error: ` line holding `fragment`, no traceback; with `--json` (the
    default here) also `{"ok": false}` on standard output. Returns standard error."""
    assert "Traceback" not in result.output
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    if answer_json:
        assert json.loads(result.stdout)["ok"] is False
    assert any(line.startswith("error: ") and fragment in line
               for line in result.stderr.splitlines()), result.stderr
    return result.stderr
