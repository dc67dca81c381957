"""How numbers and times read on the pages."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal

from core.allocation.split import format_pct
from db.types import utcnow


def pct(value: Decimal | float | int) -> str:
    return f"{format_pct(Decimal(str(value)))}%"


def signed_points(value: Decimal) -> str:
    """A change of a percentage, in points: `+5 pts`, `-2.5 pts`, `±0 pts`."""
    if value == 0:
        return "±0 pts"
    return f"{'+' if value > 0 else '-'}{format_pct(abs(value))} pts"


def money(value: Decimal) -> str:
    """Exact: every digit of the Decimal, grouped in thousands."""
    return f"{value:,f}"


def usd(value: float | Decimal) -> str:
    return f"${float(value):,.2f}"


def when(moment: datetime | None) -> str:
    return "—" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


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
