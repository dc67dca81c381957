"""Cached reads of community votes (see `ui.readers` for how caching works)."""

from __future__ import annotations

from core.base.errors import NotFound, Refused
from core.voting.service import TallyView, proposal_tally
from db.engine import Database
from ui.readers import reader


@reader(ttl=15)
def vote_tally(db: Database, proposal_id: str) -> TallyView | None:
    """The proposal's tally so far, or None when it is not put to a community vote (core refuses
    the tally of such a proposal; on a page that simply means there is nothing to show)."""
    try:
        return proposal_tally(db, proposal_id)
    except (NotFound, Refused):
        return None
