"""How numbers and times read on the pages: the one formatting module of the dashboard.

The number formatters are pure and live in `core.base.formatting` (the CSV writer uses them too);
they are re-exported here so a page imports everything it shows from one place."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal

from core.base.formatting import (MISSING, count, exact_percent, is_missing, measured, money,
                                  number, percent, points, price, share, usd)
from db.types import utcnow

__all__ = ["MISSING", "ago", "count", "exact_percent", "is_missing", "measured", "money", "number",
           "pct", "percent", "plain", "points", "price", "share", "signed_points", "time_left",
           "usd", "when"]


def pct(value: Decimal | float | int) -> str:
    """A split's percentage, exactly: `70%`, `70.5%`."""
    return exact_percent(value)


def signed_points(value: Decimal) -> str:
    """A change of a percentage, in points: `+5 pts`, `-2.5 pts`, `±0 pts`."""
    return points(value)


def when(moment: datetime | None) -> str:
    return MISSING if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def _span(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    return "" if moment is None else f"{_span((now or utcnow()) - moment)} ago"


def time_left(until: datetime, now: datetime | None = None) -> str:
    left = until - (now or utcnow())
    return "expired" if left.total_seconds() <= 0 else f"{_span(left)} left"


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$=&^\"'@/%;,?])")


def plain(text: object) -> str:
    """User text (reasoning, notes, names, keys, AI answers) made inert inside Markdown: every
    ASCII punctuation mark escaped, so no image is fetched, no heading, link, colour or emoji
    code is drawn; line breaks kept. For whole blocks of user text prefer `st.text`."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))
    return escaped.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "  \n")
