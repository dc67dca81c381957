"""Who is acting: the account behind every write, checked for the role the action needs.

Roles are ordered: a viewer reads; an analyst also proposes and runs the rebalancer; a governor
also reviews; an admin also changes the policy and the accounts. Before the first account exists
the install is in *open mode* (core.governance.accounts says why): the named actor is trusted
with every role.

Apart from core.governance.accounts so that the policy store, which names its actor here, and the
accounts, which read the policy before removing a needed governor, do not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.base.errors import PermissionDenied, Refused, ValidationFailed
from core.base.parsing import TEXT_LIMITS, check_text, optional_text
from core.record.audit import honoured
from db.models import ROLES, User

ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}


def a_role(role: str) -> str:
    """"a governor", "an analyst", "an admin": how messages name a role."""
    return f"{'an' if role[:1] in 'aeiou' else 'a'} {role}"
MAX_NAME_LENGTH = TEXT_LIMITS["username"]  # the width of every column that records who acted
OPEN_MODE_ACTOR = "operator"


@dataclass(frozen=True)
class Actor:
    username: str
    role: str
    open_mode: bool = False

    def can(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]



def has_accounts(session: so.Session) -> bool:
    return session.scalar(sa.select(sa.func.count()).select_from(User)) > 0



def normalise_username(username: str | None) -> str:
    # Accounts are stored lower-case (add_user); `--by Alice` must find `alice`. Text no account
    # name can hold (NUL, a lone surrogate) is refused before it reaches the database.
    return check_text(username or "", "username").strip().lower()



def resolve_actor(session: so.Session, username: str | None, needed_role: str, action: str) -> Actor:
    """The acting account, checked for `needed_role`; refuses unknown, disabled or too-junior ones."""
    username = optional_text(username, "by", limit_of="username")
    if not has_accounts(session):
        name = (username or "").strip() or OPEN_MODE_ACTOR
        if len(name) > MAX_NAME_LENGTH:
            raise ValidationFailed(f"by: {name[:20]!r}... is longer than {MAX_NAME_LENGTH} characters")
        return Actor(name, "admin", open_mode=True)
    if not username or not username.strip():
        raise PermissionDenied(f"by: {action} needs an acting account (name one)")
    user = session.get(User, normalise_username(username))
    if user is None:
        raise PermissionDenied(f"by: no account named {username!r}")
    if not user.active:
        raise PermissionDenied(f"by: the account {username!r} is disabled")
    if not honoured(session, user, action):
        raise PermissionDenied(f"by: the account {user.username!r} fails its audit check (its "
                               "role or sign-in fields were changed outside the application; "
                               "see `audit verify`)")
    actor = Actor(user.username, user.role)
    if not actor.can(needed_role):
        raise PermissionDenied(
            f"by: {user.username} is {a_role(user.role)}; {action} needs the {needed_role} role or "
            "higher")
    return actor



# The roles that may approve a proposal (an admin outranks a governor).
GOVERNING_ROLES = tuple(role for role in ROLES if ROLE_RANK[role] >= ROLE_RANK["governor"])


def refuse_unless_governing_since(session: so.Session, username: str, filed_at: datetime,
                                  what: str) -> None:
    """Only the governors of the moment `what` was filed may decide it (Llama's rule): refused
    for an account that began governing later, or does not govern now."""
    user = session.get(User, username)
    since = user.governing_since if user is not None and user.active \
        and user.role in GOVERNING_ROLES else None
    if since is None or since > filed_at:
        raise Refused(f"by: {username} has governed only since "
                      f"{since.isoformat(timespec='seconds') if since else 'never'}, after "
                      f"{what} was filed at {filed_at.isoformat(timespec='seconds')}; only the "
                      "governors of that moment may review it")


def active_governors() -> sa.Select[tuple[str]]:
    """The names of the accounts that may approve now: active, governor or admin."""
    return sa.select(User.username).where(User.active.is_(True), User.role.in_(GOVERNING_ROLES))


def count_active_governors(session: so.Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(active_governors().subquery()))
