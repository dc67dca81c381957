"""The second factor of governors and admins: TOTP (RFC 6238, 30 s steps, 6 digits; pyotp).

An account enrols itself (`enroll_totp`, one's own account only) and gets an `otpauth://` URI,
shown once, for an authenticator app (the dashboard draws it as a QR code). The secret is kept
sealed with the box key (core/base/keys.py), which never enters the database: a database reader
cannot compute anyone's codes.

With the policy key `require_totp` on, `check_totp` is the one gate every sign-in and every
review passes: a governor or admin must give a current code. A code from the step before is
accepted too (`VALID_WINDOW`, clocks drift and people type slowly), but each step only once per
account: the step of the last accepted code is stored, and that code, or any older one, is
refused ever after, so a code seen over a shoulder or in a log cannot be replayed. Codes never
appear in a message, a log or the activity record.

`check_totp` takes the caller's session and writes in its transaction: a refused action rolls the
step back with everything else, an accepted one commits it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import pyotp
import sqlalchemy.orm as so

from core.base.errors import PermissionDenied, Refused
from core.base.keys import keys_for
from core.base.locking import serialize_writes
from core.base.sessions import reading, writing
from core.governance.actors import GOVERNING_ROLES, normalise_username, resolve_actor
from core.governance.policy_store import load_policy
from core.record.activity import record_activity
from db.engine import Database
from db.models import TotpFactor, User
from db.types import utcnow

ISSUER = "Profit allocation"
DIGITS = 6
STEP_SECONDS = 30
VALID_WINDOW = 1  # one step either side of now (pyotp's valid_window)
CODE_PATTERN = re.compile(rf"^[0-9]{{{DIGITS}}}$")


@dataclass(frozen=True)
class Enrollment:
    """A new factor: the URI is the secret, shown once to its owner and kept nowhere else."""

    username: str
    otpauth_uri: str

    def as_json(self) -> dict[str, str]:
        return {"username": self.username, "otpauth_uri": self.otpauth_uri}


def _step(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def _clean_code(code: str | None) -> str | None:
    """The code as typed, without spaces (apps show "123 456"); None when none was given."""
    if code is None:
        return None
    text = "".join(str(code).split())
    return text or None


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The step whose code `code` is, within the window around `now`; None if none matches.
    pyotp's own comparison (constant time) for each step of the window."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        if totp.verify(code, for_time=now.timestamp() + offset * STEP_SECONDS, valid_window=0):
            return _step(now) + offset
    return None


def _verify(session: so.Session, factor: TotpFactor, code: str | None, action: str,
            now: datetime) -> None:
    code = _clean_code(code)
    if code is None:
        raise PermissionDenied(f"totp: {action} needs a current code from your authenticator app")
    if not CODE_PATTERN.match(code):
        raise PermissionDenied(f"totp: a code is the {DIGITS} digits your authenticator app shows")
    secret = keys_for(session).open(factor.secret_sealed)
    step = _matching_step(secret, code, now)
    if step is None:
        raise PermissionDenied("totp: the code is wrong or no longer current")
    if factor.last_step is not None and step <= factor.last_step:
        raise PermissionDenied("totp: this code was already used; wait for the next one")
    factor.last_step = step


def totp_required(session: so.Session, username: str) -> bool:
    """Whether the policy asks this account for a code (governors and admins, `require_totp` on)."""
    if not load_policy(session).require_totp:
        return False
    user = session.get(User, normalise_username(username))
    return user is not None and user.role in GOVERNING_ROLES


def check_totp(session: so.Session, username: str, code: str | None, *, action: str,
               now: datetime | None = None, enrolment_optional: bool = False) -> None:
    """The gate: with `require_totp` on, a governor or admin must give a current, unused code.

    Raises PermissionDenied naming `action` when the code is missing, malformed, wrong, already
    used, or the account has no factor. `enrolment_optional` (sign-in only) lets an account with
    no factor yet through, so that it can sign in and enrol; it still cannot review.
    Anyone else (viewers, analysts, the open-mode operator, the system) passes untouched."""
    if not totp_required(session, username):
        return
    name = normalise_username(username)
    factor = session.get(TotpFactor, name)
    if factor is None:
        if enrolment_optional:
            return
        raise PermissionDenied(
            f"totp: {action} needs a second factor and {name} has none; enrol first "
            f"(`users totp enroll {name} --by {name}`, or the dashboard's Second factor panel)")
    _verify(session, factor, code, action, now or utcnow())


def has_totp(db: Database, username: str) -> bool:
    with reading(db) as session:
        return session.get(TotpFactor, normalise_username(username)) is not None


def requires_totp(db: Database, username: str) -> bool:
    """For the pages: does this account have to give a code to review?"""
    with reading(db) as session:
        return totp_required(session, username)


def enroll_totp(db: Database, username: str, *, by: str | None, code: str | None = None,
                now: datetime | None = None) -> Enrollment:
    """A new TOTP secret for one's own account; the URI comes back once.

    Replacing a factor while the policy requires one needs a current code of the old one: a
    stolen password or an unattended session must not be enough to move the second factor to
    another phone."""
    name = normalise_username(username)
    with writing(db) as session:
        serialize_writes(session)
        actor = resolve_actor(session, by, "viewer", "enrolling a second factor")
        if actor.open_mode:
            raise Refused("username: a second factor belongs to an account; create the first "
                          "admin first")
        if actor.username != name:
            raise PermissionDenied(f"by: {actor.username} may enrol a second factor only for "
                                   "their own account")
        now = now or utcnow()
        factor = session.get(TotpFactor, name)
        replacing = factor is not None
        if replacing and totp_required(session, name):
            _verify(session, factor, code, "replacing your second factor", now)
        secret = pyotp.random_base32()
        sealed = keys_for(session).seal(secret)
        if factor is None:
            session.add(TotpFactor(username=name, secret_sealed=sealed, enrolled_at=now))
        else:
            # The old step means nothing to the new secret.
            factor.secret_sealed, factor.last_step, factor.enrolled_at = sealed, None, now
        record_activity(session, "totp_enrolled",
                        f"{name} {'replaced' if replacing else 'enrolled'} a second factor (TOTP)",
                        {"username": name, "replaced": replacing, "by": actor.username})
        uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
            name=name, issuer_name=ISSUER)
        return Enrollment(name, uri)

