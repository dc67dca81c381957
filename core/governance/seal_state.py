"""The seal's state: whether the governance is sealed (core.governance.sealing says what that
means), read and written by every service it guards. Apart from `sealing` so that the policy store
and the accounts, which `sealing` reads, can ask it too."""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.base.errors import Refused
from core.record.audit import honoured
from db.models import GovernanceSeal
from db.types import utcnow

SEALED_HINT = "governance is sealed"


def is_sealed(session: so.Session) -> bool:
    """The latest seal row the application wrote decides; one forged by raw SQL (an "unseal" row
    without a valid chain MAC) is reported and passed over."""
    for row in session.scalars(sa.select(GovernanceSeal).order_by(GovernanceSeal.id.desc())):
        if honoured(session, row, "the governance seal"):
            return bool(row.sealed)
    return False


def record_seal(session: so.Session, sealed: bool, by: str, proposal_id: object = None) -> None:
    """Append the seal's new state (the caller holds the write lock)."""
    latest = session.scalar(sa.select(sa.func.max(GovernanceSeal.id))) or 0
    session.add(GovernanceSeal(id=latest + 1, sealed=sealed, by=by, at=utcnow(),
                               governance_proposal_id=proposal_id))
    session.flush()


def refuse_if_sealed(session: so.Session, what: str) -> None:
    """Direct changes of what the sealed governance protects go through a governance proposal
    (core.governance.changes); a caller that reaches here directly is refused."""
    if is_sealed(session):
        raise Refused(f"{SEALED_HINT}: {what} takes effect only through a governance proposal "
                      "(file it with the same command, which then asks for approvals)")
