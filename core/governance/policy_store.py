"""The policy as versioned data: each change is a new row; the latest row is in force."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.allocation.policy import (COMMUNITY_VOTE, GOVERNOR_COUNT_KEYS, LATEST_SNAPSHOT,
                                    SETTABLE_KEYS, VOTE_OFF, VOTE_SNAPSHOT, Policy,
                                    policy_from_dict, with_setting)
from core.base.errors import Refused
from core.base.locking import serialize_writes
from core.base.parsing import check_text
from core.base.sessions import reading, writing
from core.governance.actors import count_active_governors, resolve_actor
from core.governance.seal_state import refuse_if_sealed
from core.record.activity import record_activity
from core.record.audit import honoured
from db.engine import Database
from db.models import AllocationPolicy, VoteSnapshot


def _as_text(value: object) -> str:
    """A setting as `policy set` takes it: `off` for a switched-off threshold, `true`/`false`."""
    if value is None:
        return "off"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def load_policy(session: so.Session) -> Policy:
    """The policy in force: the latest version that proves itself (core.record.audit).

    A version written outside the application (say approvals_required 1, by raw SQL) is passed
    over for the last one that verifies, and the failure recorded: the forgery then changes
    nothing, where refusing every decision until someone repairs the table would hand whoever
    can write one row a way to stop the product. A `policy set` made meanwhile builds on the
    version in force, so the forged one is never carried forward either."""
    latest = sa.select(AllocationPolicy).order_by(AllocationPolicy.version.desc())
    row = session.scalar(latest.limit(1))
    if row is None:
        return Policy()
    if honoured(session, row, "the policy in force"):
        return policy_from_dict(row.settings)
    for row in session.scalars(latest.offset(1)).all():  # the rare path: a forgery was found
        if honoured(session, row, "the policy in force"):
            return policy_from_dict(row.settings)
    return Policy()


def get_policy(db: Database) -> Policy:
    with reading(db) as session:
        return load_policy(session)


def check_setting_text(key: str, value: str) -> None:
    check_text(key, "key", limit_of="activity_type")
    check_text(value, key if key in SETTABLE_KEYS else "value", limit_of="policy_value")


def set_policy(db: Database, key: str, value: str, *, by: str | None) -> Policy:
    """Change one policy key (admins only); validated as a whole, versioned and logged. Once the
    governance is sealed, only a governance proposal changes the policy (core.governance.changes)."""
    check_setting_text(key, value)
    with writing(db) as session:
        serialize_writes(session)  # first: the actor's role is read under the lock too
        actor = resolve_actor(session, by, "admin", "changing the policy")
        refuse_if_sealed(session, f"changing {key}")
        return apply_setting(session, key, value, actor.username, count_governors=not actor.open_mode)


def proposed_setting(session: so.Session, key: str, value: str) -> tuple[Policy, object, object]:
    """The policy with `key` set to `value`, checked as a whole, and the old and new values."""
    current = load_policy(session)
    updated = with_setting(current, key, value)
    if key in (COMMUNITY_VOTE, VOTE_SNAPSHOT):
        _refuse_missing_snapshot(session, updated)
    return updated, current.as_json().get(key), updated.as_json().get(key)


def _refuse_missing_snapshot(session: so.Session, policy: Policy) -> None:
    """A vote needs a holders snapshot to weigh it: the one named, or any for `latest`. (Read
    straight from the table: the voting package sits above this one.)"""
    if policy.vote_snapshot != LATEST_SNAPSHOT:
        if session.get(VoteSnapshot, uuid.UUID(policy.vote_snapshot)) is None:
            raise Refused(f"{VOTE_SNAPSHOT}: no holders snapshot with id {policy.vote_snapshot}; "
                          "load one with `voting snapshot` first")
    elif policy.community_vote != VOTE_OFF and session.scalar(
            sa.select(VoteSnapshot.id).limit(1)) is None:
        raise Refused(f"{COMMUNITY_VOTE}: no holders snapshot is loaded, so no vote could be "
                      "weighed; load one with `voting snapshot` first")


def apply_setting(session: so.Session, key: str, value: str, by: str, *,
                  count_governors: bool = True) -> Policy:
    """Write a new policy version with `key` set (the caller checked who may, and holds the
    write lock)."""
    latest = session.scalar(sa.select(sa.func.max(AllocationPolicy.version))) or 0
    updated, old_value, new_value = proposed_setting(session, key, value)
    if key in GOVERNOR_COUNT_KEYS and count_governors:
        _refuse_more_approvals_than_governors(session, key, getattr(updated, key))
    session.add(AllocationPolicy(
        version=latest + 1, settings=updated.as_json(), changed_key=key,
        old_value=_as_text(old_value), new_value=_as_text(new_value), changed_by=by))
    record_activity(session, "policy_changed",
                    f"{by} set {key} from {_as_text(old_value)} to {_as_text(new_value)}",
                    {"key": key, "old_value": old_value, "new_value": new_value,
                     "version": latest + 1, "by": by})
    return updated


def as_text(value: object) -> str:
    return _as_text(value)


def _refuse_more_approvals_than_governors(session: so.Session, key: str, wanted: int) -> None:
    """M-of-N needs N >= M: more required approvals than active governors deadlocks every
    proposal. (In open mode any named operator may approve, so there is nothing to count.)"""
    governors = count_active_governors(session)
    if wanted > governors:
        raise Refused(f"{key}: {wanted} is more than the {governors} active governor(s) "
                      "(governor or admin accounts) who could approve; no proposal could ever "
                      "be activated. Add governors first")


def policy_versions(db: Database) -> list[dict[str, object]]:
    with reading(db) as session:
        rows = session.scalars(sa.select(AllocationPolicy).order_by(AllocationPolicy.version.desc()))
        return [{"version": r.version, "key": r.changed_key, "old_value": r.old_value,
                 "new_value": r.new_value, "changed_by": r.changed_by,
                 "changed_at": r.changed_at.isoformat()} for r in rows]
