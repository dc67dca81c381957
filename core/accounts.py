"""Accounts, roles and the acting user every write names.

Roles are ordered: a viewer reads; an analyst also proposes and runs the rebalancer; a governor
also reviews; an admin also changes the policy and the accounts.

Before the first account exists the install is in *open mode*: a single operator at the command
line, where any named actor is trusted with every role (the dashboard refuses to run that way and
asks for the first admin instead). Creating the first account closes open mode for good.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.activity import record_activity
from core.errors import NotFound, PermissionDenied, Refused, ValidationFailed
from core.locking import serialize_writes
from core.sessions import reading, writing
from db.engine import Database
from db.models import ROLES, User
from db.types import utcnow

ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.@-]{1,63}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL_LENGTH = 320
MIN_PASSWORD_LENGTH = 10
MAX_NAME_LENGTH = 64  # the width of every column that records who acted
OPEN_MODE_ACTOR = "operator"
# Names the system writes into the logs itself ("system:auto-approval", the open-mode operator):
# an account under one of them could pass its own actions off as the system's.
RESERVED_USERNAMES = frozenset({"system", "operator", "ai", "manual"})
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the account does not exist, so a wrong name costs as long as a
    wrong password and the timing does not tell which accounts exist (made on first use: hashing
    at import would slow every CLI call)."""
    return _hasher.hash("not a password of any account")


@dataclass(frozen=True)
class Actor:
    username: str
    role: str
    open_mode: bool = False

    def can(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


@dataclass(frozen=True)
class Account:
    username: str
    display_name: str
    role: str
    active: bool
    email: str | None
    created_at: datetime

    def as_json(self) -> dict[str, object]:
        return {"username": self.username, "display_name": self.display_name, "role": self.role,
                "active": self.active, "email": self.email, "created_at": self.created_at.isoformat()}


def _account(user: User) -> Account:
    return Account(user.username, user.display_name, user.role, user.active, user.email, user.created_at)


def has_accounts(session: so.Session) -> bool:
    return session.scalar(sa.select(sa.func.count()).select_from(User)) > 0


def _normalise_username(username: str | None) -> str:
    # Accounts are stored lower-case (add_user); `--by Alice` must find `alice`.
    return (username or "").strip().lower()


def resolve_actor(session: so.Session, username: str | None, needed_role: str, action: str) -> Actor:
    """The acting account, checked for `needed_role`; refuses unknown, disabled or too-junior ones."""
    if not has_accounts(session):
        name = (username or "").strip() or OPEN_MODE_ACTOR
        if len(name) > MAX_NAME_LENGTH:
            raise ValidationFailed(f"by: {name[:20]!r}... is longer than {MAX_NAME_LENGTH} characters")
        return Actor(name, "admin", open_mode=True)
    if not username or not username.strip():
        raise PermissionDenied(f"by: {action} needs an acting account (name one)")
    user = session.get(User, _normalise_username(username))
    if user is None:
        raise PermissionDenied(f"by: no account named {username!r}")
    if not user.active:
        raise PermissionDenied(f"by: the account {username!r} is disabled")
    actor = Actor(user.username, user.role)
    if not actor.can(needed_role):
        raise PermissionDenied(
            f"by: {user.username} is a {user.role}; {action} needs the {needed_role} role or higher")
    return actor


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationFailed(f"role: {role!r} is not one of {', '.join(ROLES)}")
    return role


def _check_email(session: so.Session, email: str | None) -> str | None:
    """Lower-cased, well-formed and not taken (single sign-on maps an email to one account)."""
    if email is None or not email.strip():
        return None
    email = email.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not EMAIL_PATTERN.match(email):
        raise ValidationFailed(f"email: {email[:40]!r} is not an email address")
    if session.scalar(sa.select(User.username).where(sa.func.lower(User.email) == email)):
        raise Refused(f"email: {email} is already used by another account")
    return email


def _check_password(password: str | None) -> str:
    if password is None or len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"password: must be at least {MIN_PASSWORD_LENGTH} characters")
    return password


def add_user(db: Database, username: str, role: str, password: str | None, *,
             by: str | None = None, display_name: str | None = None,
             email: str | None = None) -> Account:
    username = _normalise_username(username)
    if not USERNAME_PATTERN.match(username):
        raise ValidationFailed(
            f"username: {username!r} must be 2-64 characters of a-z, 0-9, '_', '.', '@', '-'")
    if username in RESERVED_USERNAMES:
        raise ValidationFailed(f"username: {username!r} is reserved for the system")
    _check_role(role)
    with writing(db) as session:
        # Serialised: two "first accounts" created at once in open mode would both see no
        # accounts and both be trusted as the open-mode operator.
        serialize_writes(session)
        actor = resolve_actor(session, by, "admin", "adding an account")
        if actor.open_mode and role != "admin":
            raise Refused("role: the first account must be an admin")
        if session.get(User, username) is not None:
            raise Refused(f"username: an account named {username!r} already exists")
        email = _check_email(session, email)
        if display_name is not None and len(display_name) > 200:
            raise ValidationFailed("display_name: longer than 200 characters")
        password_hash = _hasher.hash(_check_password(password)) if password is not None else None
        if password_hash is None and email is None:
            raise ValidationFailed("password: required (or an email for single sign-on)")
        user = User(username=username, display_name=display_name or username, role=role,
                    password_hash=password_hash, active=True, email=email, failed_logins=0)
        session.add(user)
        session.flush()
        record_activity(session, "account_created", f"{actor.username} created {username} ({role})",
                        {"username": username, "role": role, "by": actor.username})
        return _account(user)


def list_users(db: Database) -> list[Account]:
    with reading(db) as session:
        return [_account(u) for u in session.scalars(sa.select(User).order_by(User.username))]


def _load_user(session: so.Session, username: str) -> User:
    user = session.get(User, _normalise_username(username))
    if user is None:
        raise NotFound(f"username: no account named {username!r}")
    return user


def _last_admin_guard(session: so.Session, user: User) -> None:
    admins = session.scalar(sa.select(sa.func.count()).select_from(User).where(
        User.role == "admin", User.active.is_(True)))
    if user.role == "admin" and user.active and admins <= 1:
        raise Refused(f"username: {user.username} is the last active admin")


def set_role(db: Database, username: str, role: str, *, by: str | None) -> Account:
    _check_role(role)
    with writing(db) as session:
        # Serialised with the other account writes: two admins demoting each other at the same
        # moment would otherwise each see the other still an admin and leave none.
        serialize_writes(session)
        actor = resolve_actor(session, by, "admin", "changing a role")
        user = _load_user(session, username)
        if user.role == role:
            return _account(user)  # nothing changes, nothing is logged
        if role != "admin":
            _last_admin_guard(session, user)
        old = user.role
        user.role = role
        record_activity(session, "account_role_changed",
                        f"{actor.username} changed {user.username}'s role from {old} to {role}",
                        {"username": user.username, "old_role": old, "new_role": role,
                         "by": actor.username})
        return _account(user)


def disable_user(db: Database, username: str, *, by: str | None) -> Account:
    with writing(db) as session:
        serialize_writes(session)
        actor = resolve_actor(session, by, "admin", "disabling an account")
        user = _load_user(session, username)
        if not user.active:
            return _account(user)  # already disabled: nothing changes, nothing is logged
        _last_admin_guard(session, user)
        user.active = False
        record_activity(session, "account_disabled", f"{actor.username} disabled {user.username}",
                        {"username": user.username, "by": actor.username})
        return _account(user)


def _verify_quietly(password_hash: str, password: str | None) -> bool:
    try:
        return _hasher.verify(password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return False


def login_delay_seconds(failed_logins: int) -> float:
    """Back-off after failed sign-ins: none for the first three, then doubling up to 30 s."""
    if failed_logins < 3:
        return 0.0
    return float(min(30, 2 ** (failed_logins - 3)))


def authenticate(db: Database, username: str, password: str,
                 now: datetime | None = None) -> Account:
    """Check a password. Failures are counted; after three, each attempt must wait longer."""
    now = now or utcnow()
    refusal = Refused("sign-in: unknown account or wrong password")
    with writing(db) as session:
        user = session.get(User, _normalise_username(username))
        if user is None or not user.active or not user.password_hash:
            _verify_quietly(_dummy_hash(), password)
            raise refusal
        wait = login_delay_seconds(user.failed_logins)
        if user.last_failed_login_at and now < user.last_failed_login_at + timedelta(seconds=wait):
            raise Refused(f"sign-in: too many failed attempts, try again in {wait:.0f} s")
        try:
            _hasher.verify(user.password_hash, password or "")
        except (VerificationError, InvalidHashError):
            user.failed_logins += 1
            user.last_failed_login_at = now
            failed = True
        else:
            user.failed_logins = 0
            user.last_failed_login_at = None
            failed = False
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
        account = _account(user)
    if failed:
        raise refusal
    return account


def account_by_email(db: Database, email: str) -> Account | None:
    with reading(db) as session:
        user = session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.strip().lower()))
        return _account(user) if user is not None and user.active else None


def get_account(db: Database, username: str) -> Account | None:
    with reading(db) as session:
        user = session.get(User, _normalise_username(username))
        return _account(user) if user is not None else None


def count_accounts(db: Database) -> int:
    with reading(db) as session:
        return session.scalar(sa.select(sa.func.count()).select_from(User))
