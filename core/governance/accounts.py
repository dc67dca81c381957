"""Accounts: adding, changing and disabling them, passwords and signing in. (Who is acting, and
whether their role allows an action, is core.governance.actors.)

Before the first account exists the install is in *open mode*: a single operator at the command
line, where any named actor is trusted with every role (the dashboard refuses to run that way and
asks for the first admin instead). Creating the first account closes open mode for good.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.dialects import postgresql, sqlite

from core.base.errors import NotFound, PermissionDenied, Refused, ValidationFailed
from core.base.formatting import count
from core.base.locking import serialize_writes
from core.base.parsing import MIN_PASSWORD_LENGTH, TEXT_LIMITS, check_text, optional_text, shown
from core.base.sessions import reading, writing
from core.governance.actors import (GOVERNING_ROLES, MAX_NAME_LENGTH, a_role,
                                    count_active_governors, normalise_username, resolve_actor)
from core.governance.policy_store import load_policy
from core.governance.seal_state import refuse_if_sealed
from core.governance.second_factor import check_totp
from core.record.activity import record_activity
from core.record.audit import honoured
from db.engine import Database
from db.models import ROLES, AccountInvitation, SignInFailure, User, WebSession
from db.types import utcnow

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.@-]{1,63}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL_LENGTH = TEXT_LIMITS["email"]
MAX_PASSWORD_LENGTH = TEXT_LIMITS["password"]
# Names the system writes into the logs itself ("system:auto-approval", the open-mode operator):
# an account under one of them could pass its own actions off as the system's.
RESERVED_USERNAMES = frozenset({"system", "operator", "ai", "manual"})
_hasher = PasswordHasher()


# The client a sign-in came from (an IP address), as the throttle keys it.
MAX_CLIENT_LENGTH = 64
UNKNOWN_CLIENT = "unknown"
# A (name, client) with no failure for this long starts again from nothing.
SIGN_IN_FAILURES_KEPT = timedelta(days=1)


def _unguessable_hash() -> str:
    """A hash with the hasher's own parameters and random salt and digest, verified against
    when the account does not exist (or has no password): a wrong name then costs exactly what a
    wrong password costs, so timing does not tell which accounts exist. Made without hashing, so
    not even the first unknown name is slower."""
    def b64(size: int) -> str:
        return base64.b64encode(os.urandom(size)).rstrip(b"=").decode()

    return (f"$argon2id$v=19$m={_hasher.memory_cost},t={_hasher.time_cost},"
            f"p={_hasher.parallelism}${b64(_hasher.salt_len)}${b64(_hasher.hash_len)}")


DUMMY_HASH = _unguessable_hash()



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


account_of = _account  # for the other account services of core.governance (invitations)



def _refuse_losing_a_needed_governor(session: so.Session, user: User, change: str) -> None:
    """Refuse `change` (disabling or demoting `user`) if it would leave fewer active governors
    than the policy's approvals need: every proposal would then wait forever."""
    if not (user.active and user.role in GOVERNING_ROLES):
        return
    needed = load_policy(session).governors_needed
    left = count_active_governors(session) - 1
    if left < needed:
        raise Refused(f"username: {change} {user.username} would leave {left} active governor(s), "
                      f"fewer than the {needed} approvals the policy requires "
                      "(approvals_required); lower it first or add a governor")


def mark_governing(user: User, now: datetime) -> None:
    """Keep `governing_since` true after any change of role or state: set when the account
    starts governing (active, governor or admin), kept while it goes on, cleared when it stops,
    so a demotion and a promotion start the count again."""
    governing = bool(user.active) and user.role in GOVERNING_ROLES
    if not governing:
        user.governing_since = None
    elif user.governing_since is None:
        user.governing_since = now


def touches_governance(user: User, role: str | None = None, *, disabling: bool = False,
                       enabling: bool = False) -> bool:
    """Whether a change grants or removes the governor or admin role (or disables or enables
    such an account): what the sealed governance decides by proposal."""
    if disabling:
        return user.active and user.role in GOVERNING_ROLES
    if enabling:
        return not user.active and user.role in GOVERNING_ROLES
    return role != user.role and (role in GOVERNING_ROLES or user.role in GOVERNING_ROLES)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationFailed(f"role: {role!r} is not one of {', '.join(ROLES)}")
    return role



def _check_email(session: so.Session, email: str | None) -> str | None:
    """Lower-cased, well-formed and not taken (single sign-on maps an email to one account)."""
    if email is None or not check_text(email, "email").strip():
        return None
    email = email.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not EMAIL_PATTERN.match(email):
        raise ValidationFailed(f"email: {email[:40]!r} is not an email address")
    if session.scalar(sa.select(User.username).where(sa.func.lower(User.email) == email)):
        raise Refused(f"email: {email} is already used by another account")
    return email


def _check_password(password: str | None) -> str:
    check_text(password, "password")
    if password is None or len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"password: must be at least {MIN_PASSWORD_LENGTH} characters")
    if not password.strip():
        raise ValidationFailed("password: must not be only spaces")
    return password


def hash_new_password(password: str | None) -> str:
    """A password someone chose for themselves, checked against the rules and hashed."""
    return _hasher.hash(_check_password(password))


def _refuse_an_invited_name(session: so.Session, username: str) -> None:
    """An open invitation reserves its name: the invitee's account must not be taken first."""
    invited = session.scalar(sa.select(AccountInvitation.expires_at).where(
        AccountInvitation.username == username, AccountInvitation.kind == "invite",
        AccountInvitation.used_at.is_(None), AccountInvitation.revoked_at.is_(None),
        AccountInvitation.expires_at > utcnow()).limit(1))
    if invited is not None:
        raise Refused(f"username: {username!r} has an open invitation (until "
                      f"{invited.isoformat(timespec='minutes')})")


def add_user(db: Database, username: str, role: str, password: str | None, *,
             by: str | None = None, display_name: str | None = None,
             email: str | None = None) -> Account:
    username = normalise_username(check_text(username, "username"))
    if not USERNAME_PATTERN.match(username):
        raise ValidationFailed(
            f"username: {shown(username)} must be 2-64 characters of a-z, 0-9, '_', '.', '@', '-'")
    if username in RESERVED_USERNAMES:
        raise ValidationFailed(f"username: {username!r} is reserved for the system")
    check_role(role)
    with writing(db) as session:
        # Serialised: two "first accounts" created at once in open mode would both see no
        # accounts and both be trusted as the open-mode operator.
        serialize_writes(session)
        actor = resolve_actor(session, by, "admin", "adding an account")
        if not actor.open_mode:
            refuse_if_sealed(session, "adding an account for someone else (invite them instead)")
        if actor.open_mode and role != "admin":
            raise Refused("role: the first account must be an admin")
        if session.get(User, username) is not None:
            raise Refused(f"username: an account named {username!r} already exists")
        _refuse_an_invited_name(session, username)
        email = _check_email(session, email)
        display_name = optional_text(display_name, "display_name")
        password_hash = _hasher.hash(_check_password(password)) if password is not None else None
        if password_hash is None and email is None:
            raise ValidationFailed("password: required (or an email for single sign-on)")
        user = User(username=username, display_name=display_name or username, role=role,
                    password_hash=password_hash, active=True, email=email)
        mark_governing(user, utcnow())
        session.add(user)
        session.flush()
        record_activity(session, "account_created", f"{actor.username} created {username} ({role})",
                        {"username": username, "role": role, "by": actor.username})
        return _account(user)


def list_users(db: Database) -> list[Account]:
    with reading(db) as session:
        return [_account(u) for u in session.scalars(sa.select(User).order_by(User.username))]


def load_user(session: so.Session, username: str) -> User:
    user = session.get(User, normalise_username(username))
    if user is None:
        raise NotFound(f"username: no account named {username!r}")
    return user


def _last_admin_guard(session: so.Session, user: User) -> None:
    admins = session.scalar(sa.select(sa.func.count()).select_from(User).where(
        User.role == "admin", User.active.is_(True)))
    if user.role == "admin" and user.active and admins <= 1:
        raise Refused(f"username: {user.username} is the last active admin")


def set_role(db: Database, username: str, role: str, *, by: str | None) -> Account:
    check_role(role)
    with writing(db) as session:
        # Serialised with the other account writes: two admins demoting each other at the same
        # moment would otherwise each see the other still an admin and leave none.
        serialize_writes(session)
        actor = resolve_actor(session, by, "admin", "changing a role")
        user = load_user(session, username)
        if touches_governance(user, role):
            refuse_if_sealed(session, f"making {user.username} {a_role(role)}")
        return apply_role(session, user, role, actor.username)


def apply_role(session: so.Session, user: User, role: str, by: str) -> Account:
    """Change `user`'s role (the caller checked who may, and holds the write lock)."""
    if user.role == role:
        return _account(user)  # nothing changes, nothing is logged
    if role != "admin":
        _last_admin_guard(session, user)
    if role not in GOVERNING_ROLES:
        _refuse_losing_a_needed_governor(session, user, f"making {a_role(role)} of")
    old = user.role
    user.role = role
    mark_governing(user, utcnow())
    record_activity(session, "account_role_changed",
                    f"{by} changed {user.username}'s role from {old} to {role}",
                    {"username": user.username, "old_role": old, "new_role": role, "by": by})
    return _account(user)


def disable_user(db: Database, username: str, *, by: str | None) -> Account:
    with writing(db) as session:
        serialize_writes(session)
        actor = resolve_actor(session, by, "admin", "disabling an account")
        user = load_user(session, username)
        if touches_governance(user, disabling=True):
            refuse_if_sealed(session, f"disabling {user.username}, {a_role(user.role)}")
        return apply_disable(session, user, actor.username)


def apply_disable(session: so.Session, user: User, by: str) -> Account:
    """Disable `user` (the caller checked who may, and holds the write lock)."""
    if not user.active:
        return _account(user)  # already disabled: nothing changes, nothing is logged
    _last_admin_guard(session, user)
    _refuse_losing_a_needed_governor(session, user, "disabling")
    user.active = False
    mark_governing(user, utcnow())
    record_activity(session, "account_disabled", f"{by} disabled {user.username}",
                    {"username": user.username, "by": by})
    return _account(user)


def enable_user(db: Database, username: str, *, by: str | None) -> Account:
    with writing(db) as session:
        serialize_writes(session)
        actor = resolve_actor(session, by, "admin", "enabling an account")
        user = load_user(session, username)
        if touches_governance(user, enabling=True):
            refuse_if_sealed(session, f"enabling {user.username}, {a_role(user.role)}")
        return apply_enable(session, user, actor.username)


def apply_enable(session: so.Session, user: User, by: str) -> Account:
    """Enable `user` again (the caller checked who may, and holds the write lock). A governor or
    an admin governs again from now: `governing_since` starts afresh, so they count only for
    proposals filed after this."""
    if user.active:
        return _account(user)  # already enabled: nothing changes, nothing is logged
    user.active = True
    mark_governing(user, utcnow())
    # A session opened before the account was disabled (a cookie left on a shared or stolen
    # computer) must not come back to life with it: they sign in afresh.
    ended = end_sessions_of(session, user.username)
    record_activity(session, "account_enabled", f"{by} enabled {user.username}",
                    {"username": user.username, "role": user.role, "by": by,
                     "sessions_ended": ended})
    return _account(user)


def end_sessions_of(session: so.Session, username: str) -> int:
    """End every dashboard session of one account in the caller's transaction (a password reset,
    enabling it again; core.governance.web_sessions holds the sessions themselves)."""
    result = session.execute(sa.delete(WebSession).where(WebSession.username == username))
    return result.rowcount or 0


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


def _throttle_key(username: str, client: str | None) -> tuple[str, str]:
    """(name, client) as the throttle counts them. Any typed name is counted, account or not;
    one that cannot be an account name (too long, odd characters, even a NUL) is counted under a
    digest of itself, so it is stored safely and still throttled like any other."""
    name = normalise_username(username)
    if not USERNAME_PATTERN.match(name):
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
        name = "?" + digest[:MAX_NAME_LENGTH - 1]
    where = (client or "").strip()
    if not where or len(where) > MAX_CLIENT_LENGTH or not where.isprintable():
        where = UNKNOWN_CLIENT if not where else "?" + hashlib.sha256(
            where.encode("utf-8", "surrogatepass")).hexdigest()[:MAX_CLIENT_LENGTH - 1]
    return name, where


def _lock_failures(session: so.Session, name: str, client: str, now: datetime) -> SignInFailure:
    """This (name, client)'s failure row, created if new and locked until the transaction ends:
    parallel attempts from one client queue here, so each sees every earlier failure counted
    (on SQLite the transaction's write lock already does this)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    while True:
        session.execute(dialect.insert(SignInFailure).values(
            username=name, client=client, failures=0, last_failed_at=now).on_conflict_do_nothing())
        row = session.scalars(sa.select(SignInFailure).where(
            SignInFailure.username == name, SignInFailure.client == client)
            .with_for_update().execution_options(populate_existing=True)).first()
        # None: the row we waited for was deleted meanwhile (an unlock, or a day-old count
        # forgotten); make it again.
        if row is not None:
            return row


def authenticate(db: Database, username: str, password: str, *, client: str | None = None,
                 now: datetime | None = None, totp: str | None = None) -> Account:
    """Check a password, and the second factor when the policy asks this account for one
    (core.governance.second_factor). Failures are counted per (name, client); after three, each
    attempt from that client must wait longer (another client, or `users unlock`, is the owner's
    way in). A wrong or missing code counts as a failure too, so codes cannot be guessed faster
    than passwords.

    A name with no account (or a disabled one) is answered exactly as a wrong password is: the
    same count and delay, the same messages and the same hashing cost."""
    refusal: Refused = Refused("sign-in: unknown account or wrong password")
    name, where = _throttle_key(username, client)
    with writing(db) as session:
        throttle = _lock_failures(session, name, where, now or utcnow())
        # The time is read once the lock is held: an attempt that queued behind others must not
        # record a failure earlier than theirs (which would shorten the delay).
        now = now or utcnow()
        _refuse_while_slowed(throttle, now, "sign-in")
        user = session.get(User, name)
        # An account whose role or password hash was written outside the application (its MAC
        # fails) is answered as a wrong password; the failure is recorded (core.record.audit).
        usable = user is not None and user.active and bool(user.password_hash) \
            and honoured(session, user, "sign-in")
        if usable and _verify_quietly(user.password_hash, password):
            try:
                # An account with no factor yet may still sign in, to enrol; it cannot review.
                check_totp(session, user.username, totp, action="signing in", now=now,
                           enrolment_optional=True)
            except PermissionDenied as second_factor:
                refusal = second_factor
            else:
                throttle.failures = 0  # this client starts again; others keep their count
                if _hasher.check_needs_rehash(user.password_hash):
                    user.password_hash = _hasher.hash(password)
                return _account(user)
        elif not usable:
            _verify_quietly(DUMMY_HASH, password)
        _count_failure(session, name, where, now)
        _forget_old_failures(session, now)
    raise refusal


def check_current_password(session: so.Session, user: User, password: str | None, *,
                           client: str | None, now: datetime | None = None) -> bool:
    """Whether `password` is `user`'s current one, asked before a change of password. Counted and
    slowed down exactly like a sign-in from `client`: a borrowed or stolen session must not
    become a way to guess the password faster than the sign-in form allows. Returns False after
    counting a failure (the caller lets its transaction commit, so the count stays, and then
    refuses); raises Refused while the client must wait."""
    name, where = _throttle_key(user.username, client)
    throttle = _lock_failures(session, name, where, now or utcnow())
    now = now or utcnow()
    _refuse_while_slowed(throttle, now, "current_password")
    if user.password_hash and _verify_quietly(user.password_hash, password):
        return True
    if not user.password_hash:
        _verify_quietly(DUMMY_HASH, password)  # the same cost either way
    _count_failure(session, name, where, now)
    return False


def _refuse_while_slowed(throttle: SignInFailure, now: datetime, field: str) -> None:
    wait = login_delay_seconds(throttle.failures)
    if wait and now < throttle.last_failed_at + timedelta(seconds=wait):
        raise Refused(f"{field}: too many failed attempts, try again in {count(wait)} s")


def _count_failure(session: so.Session, name: str, client: str, now: datetime) -> None:
    # One statement: the count cannot lose an attempt, whatever runs beside it.
    session.execute(sa.update(SignInFailure).where(
        SignInFailure.username == name, SignInFailure.client == client).values(
        failures=SignInFailure.failures + 1, last_failed_at=now))


def _forget_old_failures(session: so.Session, now: datetime) -> None:
    """Drop the counts nobody has added to for a day (they would only grow the table). Rows
    another sign-in holds right now are skipped, not waited for: two sign-ins each waiting for
    the other's row would deadlock."""
    old = (sa.select(SignInFailure.username, SignInFailure.client)
           .where(SignInFailure.last_failed_at < now - SIGN_IN_FAILURES_KEPT)
           .with_for_update(skip_locked=True))
    session.execute(sa.delete(SignInFailure).where(
        sa.tuple_(SignInFailure.username, SignInFailure.client).in_(old)))


def unlock_user(db: Database, username: str, *, by: str | None) -> int:
    """Clear the failed sign-ins of an account from every client (admins; the owner's way back in
    when a client is slowed down). Returns how many clients were cleared."""
    with writing(db) as session:
        serialize_writes(session)
        actor = resolve_actor(session, by, "admin", "unlocking an account")
        user = load_user(session, username)
        cleared = session.execute(sa.delete(SignInFailure).where(
            SignInFailure.username == user.username)).rowcount
        record_activity(session, "account_unlocked",
                        f"{actor.username} cleared {user.username}'s failed sign-ins "
                        f"({cleared} client(s))",
                        {"username": user.username, "clients": cleared, "by": actor.username})
        return cleared


def account_by_email(db: Database, email: str) -> Account | None:
    with reading(db) as session:
        user = session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.strip().lower()))
        # The email maps a single sign-on to an account: one written by raw SQL maps nobody.
        return _account(user) if user is not None and user.active \
            and honoured(session, user, "single sign-on") else None


def get_account(db: Database, username: str) -> Account | None:
    with reading(db) as session:
        user = session.get(User, normalise_username(username))
        return _account(user) if user is not None else None


def count_accounts(db: Database) -> int:
    with reading(db) as session:
        return session.scalar(sa.select(sa.func.count()).select_from(User))
