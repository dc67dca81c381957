"""Who really acted: the channel the current actor reached us through, for the activity log.

Every entry point names its channel once, and every activity row written meanwhile carries it
under `metadata.via` (core/record/activity.py), so each service need not take one more argument:

- `web`: the dashboard, with `session_id` (a prefix of the stored hash of the sign-in session's
  token: it finds the `web_sessions` row, and is never the token)
- `api`: the HTTP API, with `token_id` (the API token's row id, never the token)
- `cli`: `python -m core`, with `os_user` and `host` (who ran it, where)
- `scheduler`: `python -m core schedule`, with `holder` (host:pid:random) and `host`

Kept apart from the activity log, with no imports, so the command line can name its channel
without loading the ORM (the start-up budget, tests/integration/test_startup.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

CHANNELS = ("web", "api", "cli", "scheduler")

_channel: ContextVar[dict[str, Any] | None] = ContextVar("activity_channel", default=None)


def _checked(channel: dict[str, Any]) -> dict[str, Any]:
    if channel.get("channel") not in CHANNELS:
        raise ValueError(f"channel: {channel.get('channel')!r} is not one of {', '.join(CHANNELS)}")
    return dict(channel)


@contextmanager
def acting_through(**channel: Any) -> Iterator[None]:
    """Within this block, every activity row also records `channel` under "via" (an inner block
    replaces an outer one: the scheduler inside the `schedule` command is `scheduler`)."""
    token = _channel.set(_checked(channel))
    try:
        yield
    finally:
        _channel.reset(token)


def set_channel(**channel: Any) -> None:
    """Name the channel for the rest of this context, for an entry point that cannot wrap its
    writes in a block: a Streamlit script run, whose thread serves one browser session and sets
    it again at the top of every run."""
    _channel.set(_checked(channel))


def current_channel() -> dict[str, Any] | None:
    return _channel.get()
