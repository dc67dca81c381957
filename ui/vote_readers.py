"""Cached reads of community votes (see `ui.readers` for how caching works)."""

from __future__ import annotations

from core.base.errors import NotFound, Refused
from core.voting.service import VotesExport, proposal_votes
from db.engine import Database
from ui.readers import reader


@reader(ttl=15)
def vote_export(db: Database, proposal_id: str) -> VotesExport | None:
    """The proposal's tally so far and every vote as cast (each saying whether it counts), or
    None when it is not put to a community vote (core refuses the votes of such a proposal; on a
    page that simply means there is nothing to show)."""
    try:
        return proposal_votes(db, proposal_id)
    except (NotFound, Refused):
        return None
