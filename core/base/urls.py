"""URLs as shown outside the Admin page: credentials and query strings redacted.

A webhook URL can carry a receiver's credentials (`https://user:password@host/...`,
`?api_key=...`). Only an admin needs them; the activity log is for every viewer, so what it
stores and shows is the redacted form. Lives in `base` because both the record (reading old
rows) and the jobs (writing new ones) use it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

REDACTED = "***"
# An http(s) URL inside free text (an activity's description): up to the first space.
_URL_IN_TEXT = re.compile(r"https?://\S+", re.IGNORECASE)


def redact_url(url: str) -> str:
    """`url` without `user:password@` and without its query (where API keys go) or fragment;
    each removed part is marked `***` so a reader sees something was there."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not even parseable (an unclosed `[`): show nothing of it
        return REDACTED
    _, at, host = parts.netloc.rpartition("@")
    netloc = f"{REDACTED}@{host}" if at else host
    return urlunsplit((parts.scheme, netloc, parts.path, REDACTED if parts.query else "", ""))


def redact_urls_in(text: str) -> str:
    """`text` with every http(s) URL in it redacted."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
