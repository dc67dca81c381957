"""Whether the governance is sealed, and sealing it.

A new install starts unsealed: the first admin sets things up alone (the dashboard says so on
every page). Sealing is for good: from then on, a policy change, granting or removing the
governor or admin role, disabling such an account and unsealing are governance proposals
(core.governance.changes), which take effect only after `approvals_required_major` approvals by
other governors and the major timelock, as a Safe's owners and threshold change only through a
transaction signed by the current threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.base.errors import Refused
from core.base.locking import serialize_writes
from core.base.sessions import reading, writing
from core.governance.actors import resolve_actor
from core.governance.policy_store import load_policy
from core.governance.seal_state import is_sealed, record_seal
from core.record.activity import record_activity
from db.engine import Database
from db.models import User

@dataclass(frozen=True)
class GovernanceStatus:
    sealed: bool
    governors: int
    admins: int
    approvals_required: int
    approvals_required_major: int

    def as_json(self) -> dict[str, object]:
        return {"sealed": self.sealed, "governors": self.governors, "admins": self.admins,
                "approvals_required": self.approvals_required,
                "approvals_required_major": self.approvals_required_major}


def _count_active(session: so.Session, role: str) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(User).where(
        User.active.is_(True), User.role == role))


def governance_status(db: Database) -> GovernanceStatus:
    with reading(db) as session:
        policy = load_policy(session)
        return GovernanceStatus(is_sealed(session), _count_active(session, "governor"),
                                _count_active(session, "admin"), policy.approvals_required,
                                policy.approvals_required_major)


def seal(db: Database, *, by: str | None) -> GovernanceStatus:
    """Seal the governance for good (an admin). Refused unless enough governors besides the
    sealing admin exist to approve governance proposals: sealed with fewer, nothing could ever
    change again."""
    with writing(db) as session:
        serialize_writes(session)
        actor = resolve_actor(session, by, "admin", "sealing the governance")
        if actor.open_mode:
            raise Refused("by: the governance can be sealed only once accounts exist (add the "
                          "first admin, then invite the governors)")
        if is_sealed(session):
            raise Refused("governance: already sealed")
        needed = load_policy(session).approvals_required_major
        others = session.scalar(sa.select(sa.func.count()).select_from(User).where(
            User.active.is_(True), User.role.in_(("governor", "admin")),
            User.username != actor.username))
        if others < needed:
            raise Refused(f"governance: sealing needs at least {needed} active governors or "
                          f"admins besides {actor.username} (approvals_required_major {needed}), "
                          f"who approve governance proposals; there are {others}")
        record_seal(session, True, actor.username)
        record_activity(session, "governance_sealed",
                        f"{actor.username} sealed the governance: policy, roles and unsealing "
                        f"now need {needed} approvals and the major timelock",
                        {"by": actor.username, "approvals_required_major": needed})
    return governance_status(db)
