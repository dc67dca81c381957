"""Deterministic synthetic platform data for a first look at the dashboard.

One seed gives the same tokens, engagement, treasury and history every time (`random.Random`,
`now` anchored to today 00:00 UTC). Activity follows a story: a quiet launch, a growth boom, a
plateau, a downturn and a partial recovery. Rows are written with bulk INSERTs in batches inside
one transaction, so a million tokens take seconds, and a failure leaves nothing behind.

The allocation timeline. The log is append-only, and the default 80/15/3/2 row seeded at install
(time T0) is already the current split; its `effective_from` can never move. So the demo history
is laid out *before* it: closed periods over [now - days, T0), each inserted fully formed
(`effective_until` set at insert: the triggers guard updates, and no history row is ever open),
the last one ending exactly at T0, where the seeded row takes over. The timeline stays contiguous
and its last period is the current one. Proposals that were rejected or expired sit between the
approvals, and one AI proposal filed now, against the current split, is left pending for review.
History is written only when the log holds nothing but that seeded row.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.allocation.money import calculate_amounts
from core.allocation.split import Split
from core.base.errors import Refused, ValidationFailed
from core.base.json_safe import jsonable
from core.base.locking import serialize_writes
from core.base.parsing import MAX_DEMO_DAYS, MAX_DEMO_TOKENS, MIN_DEMO_DAYS, parse_whole
from core.base.sessions import reading, writing
from core.platform_data import rollup
from core.record.activity import record_activity
from core.record.audit import sign_rows
from db import bulk
from db.engine import Database
from db.models import (AllocationLog, EngagementDaily, ProfitDistribution, ProposalReview,
                       ProtocolActivity, Token, TreasurySnapshot)
from db.types import utcnow

DEMO_ACTIVITY = "demo_data_loaded"  # logged with the data; `holds_demo_data` looks for it
BATCH = 20_000
MIN_DAYS, MAX_DAYS, MAX_TOKENS = MIN_DEMO_DAYS, MAX_DEMO_DAYS, MAX_DEMO_TOKENS  # core.base.parsing's
MAX_SEED = 2**63 - 1
MIN_HISTORY = timedelta(days=7)
# The activity story as (fraction of the period, level): 1.0 is the busiest day.
CURVE = ((0.0, 0.25), (0.25, 0.42), (0.5, 1.0), (0.6, 1.0), (0.8, 0.5), (1.0, 0.68))
PEAK_WALLETS = 900
WORDS = ("Moon", "Pixel", "Based", "Turbo", "Quantum", "Frog", "Solar", "Degen", "Alpha", "Meta",
         "Shiba", "Cosmic", "Neon", "Ape", "Rocket", "Lucky", "Golden", "Hyper", "Zen", "Nova")
NOUNS = ("Coin", "Token", "Cat", "Dog", "Inu", "Protocol", "Finance", "Swap", "DAO", "Chain")

Progress = Callable[[int, int], None]  # (tokens written, tokens to write)


@dataclass(frozen=True)
class Event:
    """One proposal of the demo history, at a fraction of the history span."""

    at: float
    split: tuple[int, int, int, int]
    outcome: str  # active, rejected or expired
    proposed_by: str
    confidence: str
    reasoning: str
    metrics: dict[str, Any]


FIRST = Event(0.0, (80, 15, 3, 2), "active", "system", "1",
              "Hardcoded 80/15/3/2 split carried over at launch", {})
HISTORY = (
    Event(0.20, (75, 15, 6, 4), "active", "ai", "0.74",
          "Community growth (+18%) after launch; raising lucky and creator rewards to build on it.",
          {"growth_rate_pct": 18.4, "engagement_score": 38.2, "dao_balance_usd": 1150.0}),
    Event(0.33, (62, 13, 15, 10), "rejected", "ai", "0.58",
          "Growth accelerating (+41%); pushing incentives to their upper bounds.",
          {"growth_rate_pct": 41.0, "engagement_score": 52.7, "dao_balance_usd": 1480.0}),
    Event(0.42, (65, 15, 12, 8), "active", "ai", "0.92",
          "Explosive growth detected. Significantly increasing lucky and creator rewards to "
          "capitalize on momentum.",
          {"growth_rate_pct": 60.3, "engagement_score": 85.1, "dao_balance_usd": 2500.0}),
    Event(0.58, (68, 18, 9, 5), "rejected", "manual", "1.0",
          "Manual adjustment for Q3 strategy: more governance budget ahead of the token vote.",
          {"manual": True}),
    Event(0.70, (80, 12, 5, 3), "active", "ai", "0.78",
          "Activity declining. Prioritizing reinvestment to improve platform features and "
          "marketing. Temporarily reducing incentives.",
          {"growth_rate_pct": -25.2, "engagement_score": 30.4, "dao_balance_usd": 1800.0}),
    Event(0.82, (74, 14, 8, 4), "expired", "ai", "0.49",
          "Early signs of recovery (+6%); a cautious step back toward incentives.",
          {"growth_rate_pct": 6.1, "engagement_score": 41.5, "dao_balance_usd": 1320.0}),
    Event(0.90, (77, 14, 6, 3), "active", "ai", "0.81",
          "Recovery holding (+12% week on week); restoring part of the lucky pool.",
          {"growth_rate_pct": 12.3, "engagement_score": 49.8, "dao_balance_usd": 1410.0}),
)
PENDING = Event(1.0, (74, 16, 6, 4), "proposed", "ai", "0.83",
                "Engagement recovering and the treasury below its 6-month average; more to the "
                "DAO and the lucky pool.",
                {"growth_rate_pct": 9.7, "engagement_score": 55.4, "dao_balance_usd": 1280.0})


def has_platform_data(db: Database) -> bool:
    """Any tokens, engagement days or treasury snapshots: the app's first-start check."""
    with reading(db) as session:
        return _has_data(session)


def _has_data(session: so.Session) -> bool:
    return any(session.scalar(sa.select(sa.exists().where(sa.literal(True)).select_from(m)))
               for m in (Token, EngagementDaily, TreasurySnapshot))


def holds_demo_data(db: Database) -> bool:
    """True when the platform data was generated here, not imported (the dashboard's banner)."""
    with reading(db) as session:
        return session.scalar(sa.select(sa.literal(True)).where(
            ProtocolActivity.activity_type == DEMO_ACTIVITY).limit(1)) is not None


def _level(fraction: float) -> float:
    for (x0, y0), (x1, y1) in zip(CURVE, CURVE[1:]):
        if fraction <= x1:
            return y0 + (y1 - y0) * (fraction - x0) / (x1 - x0)
    return CURVE[-1][1]


def _day_levels(rng: random.Random, start: date, days: int) -> list[float]:
    levels = []
    for i in range(days):
        weekend = 0.85 if (start + timedelta(days=i)).weekday() >= 5 else 1.0
        levels.append(_level(i / max(days - 1, 1)) * weekend * rng.gauss(1.0, 0.06))
    return [max(level, 0.05) for level in levels]


def _engagement_rows(rng: random.Random, start: date, levels: list[float]) -> list[dict[str, Any]]:
    rows = []
    for i, level in enumerate(levels):
        wallets = round(PEAK_WALLETS * level)
        rows.append({"day": start + timedelta(days=i), "wallet_connections": wallets,
                     "trades_count": round(wallets * rng.uniform(1.6, 2.4)),
                     "page_views": round(wallets * rng.uniform(9, 13))})
    return rows


# A launch as generated: (symbol, name, price, volume_24h, whole seconds after the start).
Launch = tuple[str, str, float, float, int]
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_NAMES = [[f"{word} {noun}" for noun in NOUNS] for word in WORDS]
_TWO_PI = 2.0 * math.pi


def _launches(rng: random.Random, n: int, cum_weights: list[float],
              levels: list[float]) -> list[Launch]:
    """Launches follow activity; prices log-normal over ~1e-5..10 USD, volumes with activity.

    Each token draws, in this order: gauss(-2.6, 1.1) for its log price, randint(3, 5) letters
    of choices(LETTERS), choice(WORDS), choice(NOUNS), gauss(3.3, 0.9) for its volume and
    randrange(86400) for its second of the day. Those methods' pure-Python bodies (CPython's
    random.py) are inlined here, drawing the very same getrandbits() and random() values, so a
    seed gives the same rows as calling them would (tests hold the two equal; the demo's numbers
    are relied on), in about three microseconds a token instead of five. The two gauss() calls
    share one pair of draws, as gauss() does, which needs the generator not to hold half a pair."""
    if rng.gauss_next is not None:
        raise ValueError("the generator holds half a gauss pair")
    days = rng.choices(range(len(levels)), cum_weights=cum_weights, k=n)
    uniform, bits = rng.random, rng.getrandbits
    log, sqrt, cos, sin, two_pi, letters, names = (math.log, math.sqrt, math.cos, math.sin,
                                                   _TWO_PI, LETTERS, _NAMES)
    batch: list[Launch] = []
    append = batch.append
    for day in days:
        x2pi = uniform() * two_pi  # gauss(): a new pair
        g2rad = sqrt(-2.0 * log(1.0 - uniform()))
        log_price = -2.6 + cos(x2pi) * g2rad * 1.1
        if log_price < -5.0:  # min(max(log_price, -5.0), 1.0)
            log_price = -5.0
        elif log_price > 1.0:
            log_price = 1.0
        length = bits(2)  # randint(3, 5): 3 + _randbelow(3)
        while length >= 3:
            length = bits(2)
        # choices(LETTERS, k=3 + length): a letter per random(), left to right
        symbol = (letters[int(uniform() * 26.0)] + letters[int(uniform() * 26.0)]
                  + letters[int(uniform() * 26.0)])
        if length:
            symbol += letters[int(uniform() * 26.0)]
            if length == 2:
                symbol += letters[int(uniform() * 26.0)]
        word = bits(5)  # choice(WORDS): _randbelow(20)
        while word >= 20:
            word = bits(5)
        noun = bits(4)  # choice(NOUNS): _randbelow(10)
        while noun >= 10:
            noun = bits(4)
        second = bits(17)  # randrange(86400): _randbelow(86400)
        while second >= 86400:
            second = bits(17)
        append((symbol, names[word][noun], round(10 ** log_price, 8),
                # gauss() again: the pair's other half, no draw
                round(10 ** (3.3 + sin(x2pi) * g2rad * 0.9) * levels[day], 2),
                day * 86400 + second))
    return batch


def _token_batch(rng: random.Random, n: int, start: datetime, cum_weights: list[float],
                 levels: list[float]) -> list[bulk.NewToken]:
    """The next `n` launches as new token rows (created_at a datetime)."""
    return [(symbol, name, price, volume, start + timedelta(seconds=second))
            for symbol, name, price, volume, second in _launches(rng, n, cum_weights, levels)]


def _write_tokens(session: so.Session, rng: random.Random, count: int, start: datetime,
                  levels: list[float], progress: Progress | None) -> int:
    cum_weights = list(_accumulate(levels))
    connection = session.connection()
    # The platform was empty, so the roll-up is this load's alone. PostgreSQL sums it from the
    # new rows in SQL after the COPY (about three times faster than in Python); SQLite, whose
    # exact sums are Python functions either way, adds it up while the rows are made.
    on_sqlite = connection.dialect.name == "sqlite"
    changes = rollup.Changes()
    clock = bulk.SqliteClock(start) if on_sqlite else None
    # Launches are whole seconds after `start`, so the minute of one is (first + second) // 60
    # (epoch seconds, the fraction of `start`'s second dropped: it never carries into a minute).
    first = (start - rollup.EPOCH) // timedelta(seconds=1)
    written = 0
    with bulk.token_indexes_built_after(connection):  # the platform is empty (checked)
        while written < count:
            size = min(BATCH, count - written)
            if clock is not None:
                batch = _launches(rng, size, cum_weights, levels)
                bulk.insert_sqlite_tokens(connection, clock.rows(batch))
                changes.count_minutes((((first + r[4]) // 60, r[2], r[3]) for r in batch), 1)
            else:
                bulk.insert_tokens(connection, _token_batch(rng, size, start, cum_weights, levels))
            written += size
            if progress is not None:
                progress(written, count)
    if on_sqlite:
        changes.apply(session)
    else:
        rollup.fill_from_tokens(session)
    return written


def _accumulate(values: list[float]) -> list[float]:
    total, out = 0.0, []
    for value in values:
        total += value
        out.append(total)
    return out


def _treasury_rows(rng: random.Random, start: datetime, levels: list[float],
                   inflows: dict[date, Decimal]) -> list[dict[str, Any]]:
    """A daily noon snapshot. The DAO's share of each distribution comes in; it spends about
    3 % of its balance a day, so the balance follows activity with a lag."""
    balance, rows = Decimal("900.00"), []
    for i in range(len(levels)):
        at = start + timedelta(days=i, hours=12)
        rate = max(rng.gauss(0.03, 0.008), 0.0)
        spend = (balance * Decimal(str(round(rate, 4)))).quantize(Decimal("0.01"))
        balance = max(balance + inflows.get(at.date(), Decimal(0)) - spend, Decimal("50.00"))
        rows.append({"at": at, "balance_usd": balance})
    return rows


# --- allocation history ------------------------------------------------------------------------

@dataclass
class _Timeline:
    """The rows and their derived records, built in time order."""

    rows: list[dict[str, Any]]
    reviews: list[dict[str, Any]]
    activities: list[dict[str, Any]]
    periods: list[tuple[datetime, uuid.UUID, Split]]  # (effective_from, id, split)


def _split(event: Event) -> Split:
    return Split(*(Decimal(v) for v in event.split))


def _log_row(event: Event, at: datetime, based_on: uuid.UUID | None) -> dict[str, Any]:
    split = _split(event)
    return {"id": uuid.uuid4(), "timestamp": at, "reinvestment_pct": split.reinvestment,
            "dao_pct": split.dao, "lucky_pct": split.lucky, "creator_pct": split.creator,
            "status": event.outcome, "reasoning": event.reasoning,
            "confidence": Decimal(event.confidence), "input_metrics": event.metrics,
            "proposed_by": event.proposed_by,
            "proposer_username": "sam" if event.proposed_by == "manual" else "rebalancer",
            "based_on_id": based_on, "effective_from": None, "effective_until": None,
            "reviewed_by": None, "reviewed_at": None, "review_notes": None}


def _activity(at: datetime, kind: str, text: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "timestamp": at, "activity_type": kind, "description": text,
            "metadata": jsonable(meta)}


def _first_period(start: datetime) -> dict[str, Any]:
    row = _log_row(FIRST, start, None)
    # Like the default seeded at install: active from the start, never reviewed.
    row.update(effective_from=start, proposer_username="system")
    return row


def _decide(rng: random.Random, row: dict[str, Any], event: Event, timeline: _Timeline,
            end: datetime) -> None:
    """Fill in the review of one historical proposal, its review record and activity rows."""
    filed, label = row["timestamp"], _split(event).label()
    timeline.activities.append(_activity(filed, "allocation_proposed",
                                         f"{row['proposer_username']} proposed {label}",
                                         {"proposal_id": row["id"], "confidence": event.confidence}))
    if event.outcome == "expired":
        row.update(reviewed_at=min(filed + timedelta(days=7), end),
                   review_notes="expired without a decision")
        timeline.activities.append(_activity(row["reviewed_at"], "allocation_expired",
                                             f"proposal {row['id']} expired unreviewed",
                                             {"proposal_id": row["id"]}))
        return
    # Reviews come within hours, never past a small share of the span (events stay in order).
    decided = filed + min(timedelta(hours=rng.randint(2, 30)), (end - filed) * 0.04)
    reviewer = rng.choice(("dana", "lee"))
    approved = event.outcome == "active"
    notes = "Metrics support this change" if approved else "Too aggressive for now"
    row.update(reviewed_by=reviewer, reviewed_at=decided, review_notes=notes)
    if approved:
        row["effective_from"] = decided
    timeline.reviews.append({"id": uuid.uuid4(), "proposal_id": row["id"], "reviewer": reviewer,
                             "decision": "approved" if approved else "rejected",
                             "notes": notes, "reviewed_at": decided})
    verb = "approved" if approved else "rejected"
    timeline.activities.append(_activity(
        decided, "allocation_activated" if approved else "allocation_rejected",
        f"{reviewer} {verb} {label}", {"proposal_id": row["id"], "by": reviewer}))


def _timeline(rng: random.Random, start: datetime, end: datetime, *,
              open_end: bool = False) -> _Timeline:
    """Closed periods over [start, end), each ending where the next begins; with `open_end`, the
    last approved split stays open: it is the current one."""
    current = _first_period(start)
    timeline = _Timeline([current], [], [], [(start, current["id"], _split(FIRST))])
    for event in HISTORY:
        row = _log_row(event, start + (end - start) * event.at, current["id"])
        _decide(rng, row, event, timeline, end)
        timeline.rows.append(row)
        if event.outcome == "active":
            current["effective_until"] = row["effective_from"]
            current = row
            timeline.periods.append((row["effective_from"], row["id"], _split(event)))
    if not open_end:
        current["effective_until"] = end  # the seeded default row takes over here
    return timeline


def _pending(based_on: uuid.UUID, since: datetime, timeline: _Timeline) -> None:
    """One AI proposal filed now against the current split, waiting for review."""
    filed = max(utcnow(), since)
    row = _log_row(PENDING, filed, based_on)
    timeline.rows.append(row)
    timeline.activities.append(_activity(filed, "allocation_proposed",
                                         f"rebalancer proposed {_split(PENDING).label()}",
                                         {"proposal_id": row["id"], "confidence": PENDING.confidence}))


def _history(session: so.Session, rng: random.Random, start: datetime) -> _Timeline | None:
    """The demo allocation history, or None when the log holds more than the seeded row.

    On a log with no row at all (the dashboard's first start opens an embedded database without
    seeding the default, so that the demo comes first) the demo's own last approved split stays
    the current one; after a seeded default, the history is laid out before it.
    """
    rows = session.scalars(sa.select(AllocationLog).limit(2)).all()
    if not rows:
        now = utcnow()
        if now - start < MIN_HISTORY:
            return None
        timeline = _timeline(rng, start, now, open_end=True)
        since, current_id, _ = timeline.periods[-1]
        _pending(current_id, since, timeline)
    else:
        if len(rows) != 1 or rows[0].effective_until is not None or rows[0].status != "active":
            return None
        seeded = rows[0]
        assert seeded.effective_from is not None
        if seeded.effective_from - start < MIN_HISTORY:
            return None  # the default split has been in force for (nearly) the whole demo period
        timeline = _timeline(rng, start, seeded.effective_from)
        timeline.periods.append((seeded.effective_from, seeded.id, Split(
            seeded.reinvestment_pct, seeded.dao_pct, seeded.lucky_pct, seeded.creator_pct)))
        _pending(seeded.id, seeded.effective_from, timeline)
    sign_rows(session, AllocationLog.__tablename__, timeline.rows)  # the audit chain's MACs
    session.execute(sa.insert(AllocationLog.__table__), timeline.rows)
    if timeline.reviews:
        sign_rows(session, ProposalReview.__tablename__, timeline.reviews)
        session.execute(sa.insert(ProposalReview.__table__), timeline.reviews)
    return timeline


def _in_force(periods: list[tuple[datetime, uuid.UUID, Split]], at: datetime) -> tuple[uuid.UUID, Split]:
    chosen = periods[0]
    for period in periods:
        if period[0] <= at:
            chosen = period
    return chosen[1], chosen[2]


def _distributions(rng: random.Random, seed: int, start: datetime, levels: list[float],
                   periods: list[tuple[datetime, uuid.UUID, Split]]) -> list[dict[str, Any]]:
    """A weekly profit run (Mondays' noon) under the split in force at the time."""
    rows = []
    for day in range(len(levels)):
        at = start + timedelta(days=day, hours=12)
        if at.weekday() != 0 or not periods or at < periods[0][0]:
            continue
        total = Decimal(str(round(max(rng.gauss(3500, 350) * levels[day], 50.0), 2)))
        allocation_id, split = _in_force(periods, at)
        amounts = calculate_amounts(total, split)
        rows.append({
            "id": uuid.uuid4(), "idempotency_key": f"demo-{seed}-{at:%Y-%m-%d}", "total": total,
            "allocation_id": allocation_id, "created_by": "demo", "created_at": at,
            **{f"{b}_pct": v for b, v in split.items()},
            **{f"{b}_amount": getattr(amounts, b) for b, _ in split.items()}})
    return rows


def _dao_inflows(distributions: list[dict[str, Any]]) -> dict[date, Decimal]:
    inflows: dict[date, Decimal] = {}
    for row in distributions:
        day = row["created_at"].date()
        inflows[day] = inflows.get(day, Decimal(0)) + row["dao_amount"]
    return inflows


def _check(seed: Any, days: Any, tokens: Any) -> tuple[int, int, int]:
    """The three options as whole numbers in range (typed text, from the CLI, or ints)."""
    problems, values = [], []
    for field, raw, low, high in (("seed", seed, 0, MAX_SEED), ("days", days, MIN_DAYS, MAX_DAYS),
                                  ("tokens", tokens, 0, MAX_TOKENS)):
        try:
            values.append(parse_whole(raw, field, minimum=low, maximum=high))
        except ValidationFailed as refused:
            problems.extend(refused.problems)
    if problems:
        raise ValidationFailed(*problems)
    return values[0], values[1], values[2]


def generate_demo_data(db: Database, seed: Any = 7, days: Any = 120, tokens: Any = 5000,
                       now: datetime | None = None, progress: Progress | None = None) -> dict[str, int]:
    """Fill an empty platform with `days` days of data ending at `now` (default today 00:00 UTC).

    Returns the rows written per table. Refused when any platform data is already there.
    """
    seed, days, tokens = _check(seed, days, tokens)
    now = now or datetime.combine(utcnow().date(), time(), tzinfo=UTC)
    start = now - timedelta(days=days)
    # One generator per part, so each part is the same for a seed whatever the others do.
    rng = {part: random.Random(f"{seed}/{part}") for part in
           ("levels", "engagement", "history", "profits", "treasury", "tokens")}
    levels = _day_levels(rng["levels"], start.date(), days)
    with writing(db) as session:
        serialize_writes(session)  # two first starts at once: the second sees the data, refuses
        rollup.lock_token_writes(session)
        if _has_data(session):
            raise Refused("database: it already holds platform data; demo data only goes into "
                          "an empty platform")
        engagement = _engagement_rows(rng["engagement"], start.date(), levels)
        session.execute(sa.insert(EngagementDaily.__table__), engagement)
        history = _history(session, rng["history"], start)
        distributions = _distributions(rng["profits"], seed, start, levels,
                                       history.periods if history else [])
        treasury = _treasury_rows(rng["treasury"], start, levels, _dao_inflows(distributions))
        activities = history.activities if history else []
        for model, rows in ((ProfitDistribution, distributions), (TreasurySnapshot, treasury),
                            (ProtocolActivity, activities)):
            if rows:
                sign_rows(session, model.__tablename__, rows)
                session.execute(sa.insert(model.__table__), rows)
        written = _write_tokens(session, rng["tokens"], tokens, start, levels, progress)
        counts = {"tokens": written, "engagement_daily": len(engagement),
                  "dao_treasury_snapshots": len(treasury),
                  "profit_allocation_log": len(history.rows) if history else 0,
                  "proposal_reviews": len(history.reviews) if history else 0,
                  "profit_distributions": len(distributions),
                  "protocol_activity": len(activities) + 1}
        record_activity(session, DEMO_ACTIVITY,
                        f"Demo data loaded (seed {seed}, {days} days, {written} tokens)",
                        {"seed": seed, "days": days, "tokens": tokens, "now": now,
                         "counts": counts, "allocation_history": history is not None})
    return counts
