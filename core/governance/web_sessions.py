"""Dashboard sign-in sessions that survive a reload, kept on the server so they can be ended.

The browser holds only a random token (256 bits from `secrets`); the database holds its SHA-256,
who it belongs to, when it expires and a mark of the password it was opened with. A session is
live only while its row exists, has not expired, its account is active and its password is
unchanged: sign-out deletes the row, disabling the account or changing its password ends every
session of that account on the next page run, wherever its cookies are.

Here too the two services an account runs for itself that end its sessions: changing its own
password (every other session ends; the tab that asked stays signed in) and signing out
everywhere (every session ends). Both leave its API tokens as they are: revoking those is the
Admin page's (and `tokens revoke`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.base.errors import PermissionDenied, Refused
from core.base.locking import serialize_writes
from core.base.sessions import reading, writing
from core.governance.accounts import (Account, account_of, check_current_password,
                                      end_sessions_of, get_account, hash_new_password, load_user)
from core.governance.actors import Actor, resolve_actor
from core.record.activity import record_activity
from core.record.audit import honoured
from db.engine import Database
from db.models import User, WebSession
from db.types import utcnow

SESSION_LIFETIME = timedelta(hours=12)
TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 128  # a cookie longer than any token we issue is not looked up at all


@dataclass(frozen=True)
class OpenedSession:
    token: str
    expires_at: datetime


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


SESSION_ID_LENGTH = 16


def public_session_id(token: str) -> str:
    """The name of a session in the activity log (`via.session_id`): the first 16 hex digits of
    the stored SHA-256 of its token, enough to find its `web_sessions` row, useless to sign in
    with (that takes the token, which the hash does not give back)."""
    return _digest(token)[:SESSION_ID_LENGTH]


def _password_mark(user: User) -> str:
    # A digest of the stored hash (itself salted): changes whenever the password does, and
    # reveals nothing about it.
    return _digest(user.password_hash or "")


def open_session(db: Database, username: str, now: datetime | None = None) -> OpenedSession:
    """A new session for an account that has just proved who it is."""
    now = now or utcnow()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires_at = now + SESSION_LIFETIME
    with writing(db) as session:
        user = session.get(User, username)
        if user is None or not user.active:
            raise LookupError(username)  # callers pass an account authenticate() just returned
        # Expired rows of anyone are swept here, so the table stays the size of the live sessions.
        session.execute(sa.delete(WebSession).where(WebSession.expires_at <= now))
        session.add(WebSession(token_hash=_digest(token), username=user.username,
                               password_mark=_password_mark(user), created_at=now,
                               expires_at=expires_at))
    return OpenedSession(token, expires_at)


def session_account(db: Database, token: str | None, now: datetime | None = None) -> Account | None:
    """The account a token signs in, or None when the session is over for any reason."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    now = now or utcnow()
    with reading(db) as session:
        row = session.get(WebSession, _digest(token))
        if row is None or row.expires_at <= now:
            return None
        user = session.get(User, row.username)
        if user is None or not user.active or _password_mark(user) != row.password_mark:
            return None
        # A session row written by raw SQL (a token hash of the writer's choosing and the
        # account's password mark, both readable) signs nobody in; nor does a forged account.
        if not (honoured(session, row, "a dashboard session")
                and honoured(session, user, "a dashboard session")):
            return None
        username = user.username
    return get_account(db, username)


def close_session(db: Database, token: str | None) -> None:
    """Sign-out: the row goes, so every tab and every copy of the cookie is signed out."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return
    with writing(db) as session:
        session.execute(sa.delete(WebSession).where(WebSession.token_hash == _digest(token)))


def close_sessions_of(db: Database, username: str) -> int:
    """End every session of one account (e.g. after a password reset by its owner)."""
    with writing(db) as session:
        return end_sessions_of(session, username)


@dataclass(frozen=True)
class SessionsEnded:
    """What a password change or a sign-out everywhere did."""

    account: Account
    sessions_ended: int

    def as_json(self) -> dict[str, object]:
        return {"username": self.account.username, "sessions_ended": self.sessions_ended}


def _refuse_unless_own(actor: Actor, user: User, action: str) -> None:
    """Only the account itself: nobody, admins included, chooses another person's password
    (that is a reset code, `users reset`) or ends their sessions for them (that is disabling)."""
    if actor.username != user.username:
        raise PermissionDenied(f"by: {actor.username} may not {action} {user.username}; only "
                               "the account itself may")


def change_password(db: Database, username: str, password: str | None, *, by: str | None,
                    current_password: str | None = None, keep_token: str | None = None,
                    client: str | None = None, now: datetime | None = None) -> SessionsEnded:
    """One's own new password (`users password`, the dashboard's form). Every other session of
    the account ends; `keep_token` (the dashboard tab that asked) stays signed in under the new
    password. With `current_password` (the dashboard asks for it), a wrong one is refused and
    counted as a failed sign-in from `client`. The password is in no log."""
    password_hash = hash_new_password(password)  # its rules, before any transaction
    with writing(db) as session:
        serialize_writes(session)
        actor = resolve_actor(session, by, "viewer", "changing a password")
        user = load_user(session, username)
        _refuse_unless_own(actor, user, "change the password of")
        if current_password is None or check_current_password(
                session, user, current_password, client=client, now=now):
            user.password_hash = password_hash
            kept = session.get(WebSession, _digest(keep_token)) if keep_token else None
            if kept is not None and kept.username == user.username:
                kept.password_mark = _password_mark(user)  # signed in under the new password
            else:
                kept = None
            ended = session.execute(sa.delete(WebSession).where(
                WebSession.username == user.username,
                WebSession.token_hash != (kept.token_hash if kept else ""))).rowcount or 0
            record_activity(session, "password_changed",
                            f"{user.username} changed their password ({ended} other session(s) "
                            "ended)", {"username": user.username, "by": actor.username,
                                       "sessions_ended": ended})
            return SessionsEnded(account_of(user), ended)
    # Outside the transaction: the failed attempt it counted is kept.
    raise Refused("current_password: this is not your current password")


def sign_out_everywhere(db: Database, username: str, *, by: str | None) -> SessionsEnded:
    """End every dashboard session of one's own account, this one included (a lost laptop, a
    shared computer); API tokens stay as they are."""
    with writing(db) as session:
        serialize_writes(session)
        actor = resolve_actor(session, by, "viewer", "signing out everywhere")
        user = load_user(session, username)
        _refuse_unless_own(actor, user, "sign out")
        ended = end_sessions_of(session, user.username)
        record_activity(session, "signed_out_everywhere",
                        f"{user.username} signed out everywhere ({ended} session(s) ended)",
                        {"username": user.username, "by": actor.username,
                         "sessions_ended": ended})
        return SessionsEnded(account_of(user), ended)
