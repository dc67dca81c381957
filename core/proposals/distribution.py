"""The seed's manage-profits: split a profit with the split in force and record it in the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.allocation.money import Amounts, calculate_amounts, parse_total
from core.allocation.policy import MAX_DISTRIBUTION
from core.allocation.records import CurrentAllocation, split_of
from core.allocation.split import Split
from core.base.errors import Refused, ValidationFailed
from core.base.formatting import money
from core.base.locking import serialize_writes
from core.base.parsing import TEXT_LIMITS, check_text, positive_amount
from core.base.sessions import reading, writing
from core.governance.actors import resolve_actor
from core.governance.policy_store import load_policy
from core.proposals.lifecycle import current_row
from core.record.activity import record_activity
from core.record.audit import honoured
from db.engine import Database
from db.models import ProfitDistribution
from settings import get_settings

MAX_KEY_LENGTH = TEXT_LIMITS["key"]
# An amount over this many times the largest distribution so far is a likely slip of the keyboard
# (a misplaced point, a pasted figure in cents): it is recorded only when repeated (`confirm_total`
# on the API, typed twice on the dashboard).
CONFIRM_FACTOR = 10
CONFIRM_TOTAL = "confirm_total"
ACTION = "running a distribution"  # as refusals name it (the API checks the role first)


def needs_confirmation(total: Decimal, largest: Decimal | None) -> bool:
    """Whether `total` is unusually large against the largest distribution so far (none before
    the first distribution: there is no yardstick yet, and the policy's cap still holds)."""
    return largest is not None and total > CONFIRM_FACTOR * largest


@dataclass(frozen=True)
class Distribution:
    id: str
    key: str
    allocation_id: str | None
    total: Decimal
    amounts: Amounts
    created_at: datetime
    created: bool
    split: Split | None = None  # the percentages it was split with (not in the CLI's JSON)

    def as_json(self) -> dict[str, Any]:
        return {"distribution_id": self.id, "key": self.key, "allocation_id": self.allocation_id,
                "amounts": self.amounts.as_json(), "total": str(self.total),
                "created_at": self.created_at.isoformat(), "created": self.created}


def _from_row(row: ProfitDistribution, created: bool) -> Distribution:
    amounts = Amounts(row.reinvestment_amount, row.dao_amount, row.lucky_amount, row.creator_amount)
    return Distribution(str(row.id), row.idempotency_key,
                        str(row.allocation_id) if row.allocation_id else None, row.total, amounts,
                        row.created_at, created, split_of(row))


def amounts_for(db: Database, profit: Any) -> tuple[Amounts, CurrentAllocation]:
    """What `profit` splits into under the split in force (writes nothing)."""
    from core.allocation.current import get_current_allocation

    positive_amount(profit, "profit")
    current = get_current_allocation(db)
    return calculate_amounts(profit, current.split, get_settings().minor_unit), current


def amounts_as_json(parts: Amounts, current: CurrentAllocation) -> dict[str, Any]:
    """The `amounts --json` document (the CLI and the API print the same one)."""
    return {**parts.as_json(), "total": str(parts.total), "allocation_id": current.id}


def _checked_key(key: Any) -> str:
    key = check_text(key, "key").strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(f"key: must be 1-{MAX_KEY_LENGTH} characters")
    return key


def distribute(db: Database, profit: Any, key: str, *, by: str | None = None,
               confirm_large: bool = False, confirm_total: Any = None) -> Distribution:
    """Record one distribution. The same key again returns the first record and writes nothing;
    the same key with another total is refused.

    With `confirm_large` (the API), a total over CONFIRM_FACTOR times the largest distribution so
    far is refused unless `confirm_total` repeats it exactly; a `confirm_total` that differs from
    the profit is refused whatever the size."""
    key = _checked_key(key)
    minor_unit = get_settings().minor_unit
    positive_amount(profit, "profit")
    total = parse_total(profit, minor_unit)
    confirmed = None if confirm_total is None else parse_total(confirm_total, minor_unit,
                                                               CONFIRM_TOTAL)
    if confirmed is not None and confirmed != total:
        raise ValidationFailed(f"{CONFIRM_TOTAL}: {money(confirmed)} is not the profit "
                               f"{money(total)}; it must repeat the amount exactly")
    with writing(db) as session:
        actor = resolve_actor(session, by, "analyst", ACTION)
        serialize_writes(session)
        existing = _by_key(session, key)
        if existing is not None:
            _refuse_another_total(existing, key, total)
            return _from_row(existing, created=False)
        policy = load_policy(session)
        if policy.distributions_paused:
            raise Refused("distribution: distributions are paused by the policy")
        if policy.max_distribution is not None and total > policy.max_distribution:
            raise Refused(f"profit: {money(total)} is above the policy's {MAX_DISTRIBUTION} "
                          f"{money(policy.max_distribution)}; an admin may raise it or set it "
                          "to off")
        if confirm_large and confirmed is None:
            largest = _largest(session)
            if needs_confirmation(total, largest):
                raise Refused(f"{CONFIRM_TOTAL}: {money(total)} is more than {CONFIRM_FACTOR} "
                              f"times the largest distribution so far ({money(largest)}); send "
                              f"{CONFIRM_TOTAL} with the same amount to record it")
        row = current_row(session)
        # Money follows only a split the application activated: one made active by raw SQL
        # fails its MACs (core.record.audit) and nothing is paid out under it.
        if row is not None and not honoured(session, row, "a distribution"):
            raise Refused(f"split: the split in force (allocation {row.id}) fails its audit "
                          "check (see `audit verify`); nothing was distributed")
        current = CurrentAllocation.of(row)
        amounts = calculate_amounts(total, current.split, minor_unit)
        record = ProfitDistribution(
            idempotency_key=key, total=total, allocation_id=row.id if row else None,
            reinvestment_pct=current.split.reinvestment, dao_pct=current.split.dao,
            lucky_pct=current.split.lucky, creator_pct=current.split.creator,
            reinvestment_amount=amounts.reinvestment, dao_amount=amounts.dao,
            lucky_amount=amounts.lucky, creator_amount=amounts.creator, created_by=actor.username)
        session.add(record)
        session.flush()
        record_activity(session, "profit_distributed",
                        f"{money(total)} distributed with {current.split.label()} (key {key})",
                        {"distribution_id": record.id, "key": key, "total": str(total),
                         "amounts": amounts.as_json(), "split": current.split.as_json(),
                         "allocation_id": row.id if row else None, "source": current.source,
                         "by": actor.username})
        return _from_row(record, created=True)


def _by_key(session: so.Session, key: str) -> ProfitDistribution | None:
    return session.scalar(sa.select(ProfitDistribution).where(
        ProfitDistribution.idempotency_key == key))


def _refuse_another_total(existing: ProfitDistribution, key: str, total: Decimal) -> None:
    if existing.total != total:
        raise Refused(f"key: {key!r} was already used for a distribution of "
                      f"{money(existing.total)}, not {money(total)}")


def check_key(db: Database, profit: Any, key: str) -> Distribution | None:
    """Before asking for confirmation: the distribution already recorded under `key`, if any
    (the same total again writes nothing); refused, with `distribute`'s own message, when it was
    another total. Writes nothing."""
    key = _checked_key(key)
    positive_amount(profit, "profit")
    total = parse_total(profit, get_settings().minor_unit)
    with reading(db) as session:
        existing = _by_key(session, key)
        if existing is None:
            return None
        _refuse_another_total(existing, key, total)
        return _from_row(existing, created=False)


def list_distributions(db: Database, limit: int = 200) -> list[Distribution]:
    with reading(db) as session:
        rows = session.scalars(sa.select(ProfitDistribution)
                               .order_by(ProfitDistribution.created_at.desc()).limit(limit))
        return [_from_row(r, created=True) for r in rows]


def largest_distribution(db: Database) -> Decimal | None:
    """The largest total ever distributed (None before the first): the yardstick against which
    the dashboard asks for an unusually large amount to be typed twice."""
    with reading(db) as session:
        return _largest(session)


def _largest(session: so.Session) -> Decimal | None:
    # Totals are text on SQLite (db.types.ExactDecimal), where MAX would compare them as strings
    # ("953.12" > "3815.77"): order by their numeric value, then read the exact stored one.
    by_value = sa.cast(ProfitDistribution.total, sa.Numeric)
    return session.scalar(sa.select(ProfitDistribution.total)
                          .order_by(by_value.desc(), ProfitDistribution.total.desc()).limit(1))
