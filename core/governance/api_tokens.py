"""API tokens: bearer credentials of one account, acting with its role.

A token is shown once, when it is made; only its SHA-256 is kept. A password gets argon2 because
people choose passwords from a small space that a slow hash protects against guessing; a token
here is 256 random bits from `secrets`, so no amount of hashing speed helps a guesser (2^256
tries), and a fast, unsalted digest lets a request find its token by an indexed equality lookup
instead of running a 50 ms argon2 verification per request (which would also hand anyone a cheap
way to burn the server's CPU).

A token works while it is not revoked, not expired and its account is active: the account is
read on every request, so disabling an account stops its tokens at once.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from core.base.errors import NotAuthenticated, NotFound, Refused, Throttled, ValidationFailed
from core.base.lookups import get_by_id
from core.base.parsing import check_text
from core.base.sessions import reading, writing
from core.governance.accounts import login_delay_seconds
from core.governance.actors import resolve_actor
from core.record.activity import record_activity
from core.record.audit import honoured
from db.engine import Database
from db.models import ApiToken, User
from db.types import utcnow

TOKEN_PREFIX = "pa_"  # recognisable in a leaked file or a secret scanner's rules
TOKEN_BYTES = 32
MAX_NAME_LENGTH = 100
MAX_EXPIRES_DAYS = 3650
# last_used_at is written at most this often per token: a write per request would turn every
# read into a write (and, on SQLite, queue reads behind the write lock).
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenInfo:
    id: str
    username: str
    name: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "username": self.username, "name": self.name,
                "expires_at": _iso(self.expires_at), "revoked": self.revoked,
                "last_used_at": _iso(self.last_used_at), "created_at": _iso(self.created_at),
                "created_by": self.created_by}


@dataclass(frozen=True)
class IssuedToken:
    """A new token with its secret: the only time the secret exists outside the caller."""

    info: TokenInfo
    token: str

    def as_json(self) -> dict[str, object]:
        return {"id": self.info.id, "token": self.token, "username": self.info.username,
                "name": self.info.name, "expires_at": _iso(self.info.expires_at)}


@dataclass(frozen=True)
class TokenPrincipal:
    """Who a request acts as: the token's account, with the account's role as it is now."""

    token_id: str
    username: str
    role: str


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(str(row.id), row.username, row.name, row.created_by, row.created_at,
                     row.expires_at, row.revoked_at, row.last_used_at)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_expires_days(expires_days: object) -> int | None:
    if expires_days is None:
        return None
    if isinstance(expires_days, bool) or not isinstance(expires_days, int):
        raise ValidationFailed(f"expires_days: {expires_days!r} is not a whole number of days")
    if not 1 <= expires_days <= MAX_EXPIRES_DAYS:
        raise ValidationFailed(f"expires_days: {expires_days} is outside 1..{MAX_EXPIRES_DAYS}")
    return expires_days


def create_token(db: Database, username: str, name: str, *, by: str | None,
                 expires_days: int | None = None, now: datetime | None = None) -> IssuedToken:
    """Make a token for `username` (an admin's act). The secret is in the answer and nowhere else."""
    label = check_text(name, "name").strip()
    if not label or len(label) > MAX_NAME_LENGTH:
        raise ValidationFailed(f"name: must be 1-{MAX_NAME_LENGTH} characters")
    if any(char in label for char in "\t\r\n"):
        # A label is shown on one line (lists, the Admin page, activity): no tab or line break.
        raise ValidationFailed("name: must be one line (no tab or line break)")
    days = _check_expires_days(expires_days)
    now = now or utcnow()
    with writing(db) as session:
        actor = resolve_actor(session, by, "admin", "creating an API token")
        if actor.open_mode:
            raise Refused("username: API tokens belong to accounts; create the first admin first")
        user = session.get(User, (username or "").strip().lower())
        if user is None:
            raise NotFound(f"username: no account named {username!r}")
        if not user.active:
            raise Refused(f"username: the account {user.username!r} is disabled")
        token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
        row = ApiToken(token_hash=hash_token(token), username=user.username, name=label,
                       created_by=actor.username, created_at=now,
                       expires_at=now + timedelta(days=days) if days else None)
        session.add(row)
        session.flush()
        record_activity(session, "api_token_created",
                        f"{actor.username} created API token {label!r} for {user.username}",
                        {"token_id": row.id, "username": user.username, "name": label,
                         "expires_at": row.expires_at, "by": actor.username})
        return IssuedToken(_info(row), token)


def list_tokens(db: Database) -> list[TokenInfo]:
    """Every token, newest first (never the secret: it is not kept)."""
    with reading(db) as session:
        return [_info(r) for r in session.scalars(
            sa.select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id))]


def revoke_token(db: Database, token_id: str, *, by: str | None,
                 now: datetime | None = None) -> TokenInfo:
    """Stop a token for good. Revoking a revoked token changes nothing and logs nothing."""
    with writing(db) as session:
        actor = resolve_actor(session, by, "admin", "revoking an API token")
        row = get_by_id(session, ApiToken, token_id, "token", "a token")
        if row.revoked_at is None:
            row.revoked_at, row.revoked_by = now or utcnow(), actor.username
            record_activity(session, "api_token_revoked",
                            f"{actor.username} revoked API token {row.name!r} of {row.username}",
                            {"token_id": row.id, "username": row.username, "by": actor.username})
        return _info(row)


def authenticate_token(db: Database, token: str | None,
                       now: datetime | None = None) -> TokenPrincipal:
    """The account a bearer token acts for, or NotAuthenticated (one message for every cause)."""
    refusal = NotAuthenticated("authorization: missing, unknown, expired or revoked token")
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise refusal
    now = now or utcnow()
    with reading(db) as session:
        row = session.execute(
            sa.select(ApiToken, User).join(User, User.username == ApiToken.username)
            .where(ApiToken.token_hash == hash_token(token))).one_or_none()
        # A token (or its account's role) written outside the application is refused like an
        # unknown one; the failure is recorded once this read ends (core.record.audit).
        found = None if row is None or not (
            honoured(session, row.ApiToken, "an API token")
            and honoured(session, row.User, "an API token")) else row
    if found is None:
        raise refusal
    found_token, user = found
    if found_token.revoked_at is not None or not user.active \
            or (found_token.expires_at is not None and now >= found_token.expires_at):
        raise refusal
    if found_token.last_used_at is None or now - found_token.last_used_at >= LAST_USED_RESOLUTION:
        with writing(db) as session:
            session.execute(sa.update(ApiToken).where(ApiToken.id == found_token.id)
                            .values(last_used_at=now))
    return TokenPrincipal(str(found_token.id), user.username, user.role)


class FailedTokenAttempts:
    """Bad tokens per client (an address), slowed down as failed sign-ins are
    (`login_delay_seconds`: free for three, then doubling up to 30 s).

    Kept in memory, not in the database: a client without a valid token must not be able to
    make the server write. Bounded: the oldest clients are forgotten past `max_clients`.
    """

    def __init__(self, max_clients: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._clients: OrderedDict[str, tuple[int, datetime]] = OrderedDict()
        self._max = max_clients

    def check(self, client: str, now: datetime) -> None:
        """Raise Throttled while `client` must still wait after its last failure."""
        with self._lock:
            failures, last = self._clients.get(client, (0, now))
        wait = login_delay_seconds(failures)
        remaining = (last + timedelta(seconds=wait) - now).total_seconds()
        if wait and remaining > 0:
            raise Throttled(remaining, f"authorization: too many bad tokens from this client, "
                                       f"try again in {max(1, round(remaining))} s")

    def failed(self, client: str, now: datetime) -> None:
        with self._lock:
            failures, _ = self._clients.pop(client, (0, now))
            self._clients[client] = (failures + 1, now)
            while len(self._clients) > self._max:
                self._clients.popitem(last=False)



def authenticate_client(db: Database, token: str | None, client: str,
                        attempts: FailedTokenAttempts, now: datetime | None = None) -> TokenPrincipal:
    """`authenticate_token` for a request from `client`, throttling repeated bad tokens.

    A valid token is never locked out: behind a proxy that hides client addresses every caller
    shares one address, and four bad tokens would otherwise shut out everyone. Only a bad token
    is made to wait, and a good one does not clear the count either, or the legitimate traffic
    sharing that address would keep resetting an attacker's delay. (Tokens carry 256 random
    bits: the throttle limits load and noise, not the odds of a guess.)"""
    now = now or utcnow()
    try:
        return authenticate_token(db, token, now)
    except NotAuthenticated:
        if token:  # no token at all is not a guess: a plain 401, never counted or made to wait
            attempts.check(client, now)  # a waiting client learns only that it must wait
            attempts.failed(client, now)
        raise
