"""Invitations and password resets: nobody chooses another person's password.

An admin invites a name with a role (`invite_user`) or gives an existing account a reset
(`issue_reset`); either way the answer carries a single-use code, shown once, valid for
`INVITATION_LIFETIME`, and a link to the dashboard's form (`/?invite=CODE`). Whoever holds the
code chooses the password (`accept_invitation`).

Like an API token (core/governance/api_tokens.py says why), a code is 256 random bits from
`secrets` and only its SHA-256 is stored: a database reader learns no usable code.

**The account is created only when the invitation is accepted**, not before as a disabled account
without a password. Until then the name is only reserved (`add_user` and a second invitation
refuse it): there is no user row that could sign in, be counted as a governor (approvals, the
governors the policy needs), be re-enabled by `users enable` without a password, or hold a role
in a review. An invitation that expires leaves nothing behind but its own row.

Accepting a reset ends every dashboard session of the account in the same transaction, so
whoever was signed in with the old password is signed out.

The governance-proposal hook: `create_invitation(session, actor, ...)` writes the invitation in
the caller's transaction, so the sealed-governance code can file its proposal beside it (an
invitation to governor or admin counting only once approved) without a second transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.base.errors import NotFound, Refused, ValidationFailed
from core.base.locking import serialize_writes
from core.base.parsing import check_text, shown
from core.base.sessions import reading, writing
from core.governance.accounts import (RESERVED_USERNAMES, USERNAME_PATTERN, Account,
                                      account_of, check_role, hash_new_password, mark_governing)
from core.governance.actors import (GOVERNING_ROLES, Actor, a_role, normalise_username,
                                    resolve_actor)
from core.governance.changes import file_governance_change, invite_approved
from core.governance.seal_state import is_sealed
from core.governance.web_sessions import end_sessions_of
from core.record.activity import record_activity
from db.engine import Database
from db.models import AccountInvitation, User
from db.types import utcnow

INVITATION_LIFETIME = timedelta(hours=72)
CODE_BYTES = 32
CODE_PREFIX = "inv_"  # recognisable in a chat log or a secret scanner's rules
MAX_CODE_LENGTH = 128
INVITE, RESET = "invite", "reset"
INVITE_PATH = "/?invite="


@dataclass(frozen=True)
class IssuedInvitation:
    """A new invitation or reset with its code: the only time the code exists outside its owner."""

    kind: str
    username: str
    role: str
    code: str
    url: str
    expires_at: datetime
    # Sealed, an invitation to governor or admin also files the governance proposal that grants
    # the role: the account counts as a governor only once that is approved.
    governance_proposal_id: str | None = None

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "username": self.username, "role": self.role, "invite_code": self.code,
            "invite_url": self.url, "expires_at": self.expires_at.isoformat()}
        if self.governance_proposal_id:
            data["governance_proposal_id"] = self.governance_proposal_id
        return data


@dataclass(frozen=True)
class OpenInvitation:
    """An invitation still waiting (never its code: it is not kept)."""

    kind: str
    username: str
    role: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()


def invite_url(code: str, base_url: str | None = None) -> str:
    """The dashboard link of a code: `/?invite=CODE`, after the public address when one is set."""
    if base_url is None:
        from settings import get_settings

        base_url = get_settings().pa_public_url
    return (base_url or "").rstrip("/") + INVITE_PATH + code


def _open(username: str, now: datetime) -> sa.Select[tuple[AccountInvitation]]:
    return sa.select(AccountInvitation).where(
        AccountInvitation.username == username, AccountInvitation.used_at.is_(None),
        AccountInvitation.revoked_at.is_(None), AccountInvitation.expires_at > now)


def _revoke_open(session: so.Session, username: str, now: datetime) -> int:
    """An older open code of the same name stops working: only the newest one counts."""
    older = list(session.scalars(_open(username, now)))
    for row in older:
        row.revoked_at = now
    return len(older)


def _issue(session: so.Session, actor: Actor, kind: str, username: str, role: str,
           now: datetime) -> IssuedInvitation:
    replaced = _revoke_open(session, username, now)
    code = CODE_PREFIX + secrets.token_urlsafe(CODE_BYTES)
    row = AccountInvitation(code_hash=hash_code(code), kind=kind, username=username,
                            role=role if kind == INVITE else None, created_by=actor.username,
                            created_at=now, expires_at=now + INVITATION_LIFETIME)
    session.add(row)
    session.flush()
    # The code is never recorded: the activity says who, for whom, and until when.
    details = {"invitation_id": row.id, "username": username, "role": role,
               "expires_at": row.expires_at, "replaced": replaced, "by": actor.username}
    if kind == INVITE:
        record_activity(session, "account_invited",
                        f"{actor.username} invited {username} as {role}", details)
    else:
        record_activity(session, "password_reset_issued",
                        f"{actor.username} issued a password reset for {username}", details)
    return IssuedInvitation(kind, username, role, code, invite_url(code), row.expires_at)


def check_new_username(username: str) -> str:
    name = normalise_username(check_text(username, "username"))
    if not USERNAME_PATTERN.match(name):
        raise ValidationFailed(
            f"username: {shown(name)} must be 2-64 characters of a-z, 0-9, '_', '.', '@', '-'")
    if name in RESERVED_USERNAMES:
        raise ValidationFailed(f"username: {name!r} is reserved for the system")
    return name


def create_invitation(session: so.Session, actor: Actor, username: str, role: str, *,
                      now: datetime | None = None) -> IssuedInvitation:
    """The invitation, in the caller's transaction (the hook for governance proposals; it never
    commits). The name must be free: no account, and any open invitation of it is replaced."""
    name = check_new_username(username)
    check_role(role)
    if session.get(User, name) is not None:
        raise Refused(f"username: an account named {name!r} already exists")
    return _issue(session, actor, INVITE, name, role, now or utcnow())


def invite_user(db: Database, username: str, role: str, *, by: str | None,
                now: datetime | None = None) -> IssuedInvitation:
    """An admin invites `username` as `role`: a single-use code, valid 72 hours."""
    name = check_new_username(username)
    check_role(role)
    with writing(db) as session:
        serialize_writes(session)  # with add_user: one name, one account
        actor = resolve_actor(session, by, "admin", "inviting an account")
        if actor.open_mode:
            raise Refused("by: there are no accounts yet; create the first admin with `users add`")
        issued = create_invitation(session, actor, name, role, now=now)
        if role in GOVERNING_ROLES and is_sealed(session):
            filing = file_governance_change(
                session, actor, "invite", {"username": name, "role": role},
                f"let the invited {name} govern as {a_role(role)}", subject=name)
            issued = replace(issued, governance_proposal_id=filing.id)
        return issued


def issue_reset(db: Database, username: str, *, by: str | None,
                now: datetime | None = None) -> IssuedInvitation:
    """An admin gives an account a reset code: its owner chooses a new password with it (the
    admin never learns or sets the password). The old password works until the code is used."""
    with writing(db) as session:
        serialize_writes(session)
        actor = resolve_actor(session, by, "admin", "resetting a password")
        user = session.get(User, normalise_username(username))
        if user is None:
            raise NotFound(f"username: no account named {username!r}")
        if not user.active:
            raise Refused(f"username: the account {user.username!r} is disabled; enable it first")
        return _issue(session, actor, RESET, user.username, user.role, now or utcnow())


def _find(session: so.Session, code: str | None, now: datetime) -> AccountInvitation:
    """The invitation a code opens, locked until the transaction ends (two accepts of one code
    queue here; the second finds it used)."""
    text = (code or "").strip()
    if not text or len(text) > MAX_CODE_LENGTH or not text.isprintable():
        raise Refused("code: unknown invitation code")
    row = session.scalars(sa.select(AccountInvitation).where(
        AccountInvitation.code_hash == hash_code(text)).with_for_update()).first()
    if row is None:
        raise Refused("code: unknown invitation code")
    if row.used_at is not None:
        raise Refused("code: this invitation was already used; ask an admin for a new one")
    if row.revoked_at is not None:
        raise Refused("code: this invitation was replaced by a newer one; use the newest link")
    if now >= row.expires_at:
        raise Refused("code: this invitation has expired; ask an admin for a new one")
    return row


def accept_invitation(db: Database, code: str | None, password: str | None, *,
                      now: datetime | None = None) -> Account:
    """The invitee (or the owner, for a reset) sets their own password with a code."""
    password_hash = hash_new_password(password)  # refused before anything is read
    with writing(db) as session:
        serialize_writes(session)
        now = now or utcnow()
        row = _find(session, code, now)
        if row.kind == INVITE:
            user = _create_invited(session, row, password_hash, now)
        else:
            user = _reset(session, row, password_hash)
        row.used_at = now
        return account_of(user)


def _create_invited(session: so.Session, row: AccountInvitation, password_hash: str,
                    now: datetime) -> User:
    if session.get(User, row.username) is not None:
        raise Refused(f"username: an account named {row.username!r} was created meanwhile; "
                      "ask an admin for a new invitation")
    role = row.role
    if role in GOVERNING_ROLES and is_sealed(session) and not invite_approved(
            session, row.username, row.created_at):
        # The governors have not (yet) approved this account's governing: it starts as a
        # viewer, and the approved proposal grants the role when it takes effect.
        role = "viewer"
    user = User(username=row.username, display_name=row.username, role=role,
                password_hash=password_hash, active=True, created_at=now)
    mark_governing(user, now)
    session.add(user)
    session.flush()
    record_activity(session, "account_created",
                    f"{row.username} accepted the invitation of {row.created_by} ({role})",
                    {"username": row.username, "role": role, "invited_as": row.role,
                     "by": row.created_by, "invitation_id": row.id})
    return user


def _reset(session: so.Session, row: AccountInvitation, password_hash: str) -> User:
    user = session.get(User, row.username)
    if user is None or not user.active:
        raise Refused(f"username: the account {row.username!r} is disabled or gone; "
                      "ask an admin")
    user.password_hash = password_hash
    ended = end_sessions_of(session, user.username)
    record_activity(session, "password_reset",
                    f"{user.username} set a new password with a reset code of {row.created_by}",
                    {"username": user.username, "by": row.created_by, "invitation_id": row.id,
                     "sessions_ended": ended})
    return user


def open_invitations(db: Database, now: datetime | None = None) -> list[OpenInvitation]:
    """Invitations and resets still waiting, newest first."""
    now = now or utcnow()
    with reading(db) as session:
        rows = session.scalars(sa.select(AccountInvitation).where(
            AccountInvitation.used_at.is_(None), AccountInvitation.revoked_at.is_(None),
            AccountInvitation.expires_at > now).order_by(AccountInvitation.created_at.desc()))
        return [OpenInvitation(r.kind, r.username, r.role, r.created_by, r.created_at,
                               r.expires_at) for r in rows]

