"""A switchback experiment's design, its balanced random schedule, and the schedule's commitment.

The split is one number for the whole platform, so the arms run in turn, one per block of time.
The schedule is drawn in **rounds**: each round holds every arm once, in a random order. The arms
therefore get the same number of blocks, a slow trend falls on all of them alike, and the schedule
cannot drift into one arm for weeks. Before the start only the schedule's SHA-256 is published
(`schedule_sha256`); at the end the salt and the schedule are, and anyone can recompute the hash
(`verify_schedule`). The salt keeps the few possible schedules from being found by hashing each of
them: with two arms and 28 blocks there are only 2^14.

Pure: no database. Whether each arm is within the policy's bounds is checked where the policy is
read (the governance step); here only what makes a design a design.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from core.allocation.split import BUCKETS, HUNDRED, Split, format_pct
from core.base.errors import ValidationFailed
from core.base.parsing import parse_whole, shown, to_decimal

MIN_ARMS, MAX_ARMS = 2, 4  # the control and one to three others
MIN_BLOCK_HOURS = 1
# Four weeks: a longer block is a before/after comparison, not a switchback.
MAX_BLOCK_HOURS = 24 * 28
MIN_BLOCKS_PER_ARM = 2  # below two, an arm's spread between blocks cannot be estimated at all
# Far beyond any useful design (a year of 24 h blocks); keeps the schedule and its text bounded.
MAX_BLOCKS = 400
MIN_BURN_IN_HOURS = 0
MAX_GUARDRAIL_PCT = Decimal(100)  # a metric cannot fall by more than all of it
GUARDRAIL_PLACES = 2
SALT_BYTES = 16  # `secrets.token_hex(16)`: 32 hex digits, 128 bits
CONTROL = 0  # the first arm is the control, normally the live split

# The figures an experiment can measure, per day, with how a verdict names each. Keys are those of
# `core.platform_data.outcomes.FIGURES` (a test holds them to it), without the treasury: a slowly
# moving stock does not answer to a block of a day or two.
METRICS: dict[str, str] = {
    "tokens_per_day": "tokens per day",
    "volume_per_day": "trading volume per day",
    "avg_price": "the average token price",
    "engagement_score": "the engagement score",
    "wallet_connections": "wallet connections per day",
}
DEFAULT_METRIC = "tokens_per_day"
GUARDRAIL_FORMAT = "METRIC:-PCT"


@dataclass(frozen=True)
class Guardrail:
    """A metric that must not fall by more than `max_drop_pct` percent against the control."""

    metric: str
    max_drop_pct: Decimal

    def label(self) -> str:
        return f"{self.metric}:-{format_pct(self.max_drop_pct)}"


@dataclass(frozen=True)
class ExperimentDesign:
    """A checked design: constructing one with a broken rule raises ValidationFailed naming each
    field, so an invalid design cannot exist."""

    arms: tuple[Split, ...]
    block_hours: int
    blocks: int
    burn_in_hours: int = 0
    metric: str = DEFAULT_METRIC
    guardrails: tuple[Guardrail, ...] = field(default=())

    def __post_init__(self) -> None:
        # Lists may come in from callers; frozen tuples keep the design hashable and unchanged.
        object.__setattr__(self, "arms", tuple(self.arms))
        object.__setattr__(self, "guardrails", tuple(self.guardrails))
        problems = design_problems(self)
        if problems:
            raise ValidationFailed(*problems)

    @property
    def rounds(self) -> int:
        return self.blocks // len(self.arms)

    @property
    def duration(self) -> timedelta:
        return timedelta(hours=self.block_hours * self.blocks)

    def block_bounds(self, starts_at: datetime) -> list[tuple[datetime, datetime]]:
        """Each block's [start, end), back to back from `starts_at`."""
        length = timedelta(hours=self.block_hours)
        return [(starts_at + i * length, starts_at + (i + 1) * length) for i in range(self.blocks)]

    def ends_at(self, starts_at: datetime) -> datetime:
        return starts_at + self.duration

    def as_json(self) -> dict[str, Any]:
        return {"arms": [arm.as_json() for arm in self.arms], "block_hours": self.block_hours,
                "blocks": self.blocks, "burn_in_hours": self.burn_in_hours, "metric": self.metric,
                "guardrails": [g.label() for g in self.guardrails]}


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _arm_problems(index: int, arm: Any) -> list[str]:
    # The same rules as a proposal's split (0..100 each, exactly 100 in all); the policy's own
    # bounds are the governance step's. Arms are numbered from 1 as people count them.
    name = f"arms: arm {index + 1}"
    if not isinstance(arm, Split):
        return [f"{name} is not a split"]
    problems = [f"{name}: {bucket} {format_pct(value)} is outside 0..100"
                for bucket, value in arm.items() if not 0 <= value <= HUNDRED]
    if arm.total != HUNDRED:
        problems.append(f"{name}: the four sum to {format_pct(arm.total)}, not exactly 100")
    return problems


def design_problems(design: ExperimentDesign) -> list[str]:
    """Every rule the design breaks, one message each, naming the field."""
    problems: list[str] = []
    arms = design.arms
    if not MIN_ARMS <= len(arms) <= MAX_ARMS:
        problems.append(f"arms: {len(arms)} given; an experiment has {MIN_ARMS} to {MAX_ARMS} "
                        "(the first is the control)")
    for index, arm in enumerate(arms):
        problems.extend(_arm_problems(index, arm))
        if arm in arms[:index]:
            problems.append(f"arms: arm {index + 1} ({arm.label()}) repeats arm "
                            f"{arms.index(arm) + 1}; two equal arms test nothing")
    block_hours_ok = _whole(design.block_hours) and \
        MIN_BLOCK_HOURS <= design.block_hours <= MAX_BLOCK_HOURS
    if not block_hours_ok:
        problems.append(f"block_hours: {shown(design.block_hours, quote=False)} is not a whole "
                        f"number of hours in {MIN_BLOCK_HOURS}..{MAX_BLOCK_HOURS}")
    if not _whole(design.blocks) or not 0 < design.blocks <= MAX_BLOCKS:
        problems.append(f"blocks: {shown(design.blocks, quote=False)} is not a whole number in "
                        f"1..{MAX_BLOCKS}")
    elif MIN_ARMS <= len(arms) <= MAX_ARMS:
        needed = MIN_BLOCKS_PER_ARM * len(arms)
        if design.blocks % len(arms):
            problems.append(f"blocks: {design.blocks} is not a multiple of the {len(arms)} arms "
                            "(each round holds every arm once)")
        if design.blocks < needed:
            problems.append(f"blocks: {design.blocks} is fewer than {needed} "
                            f"({MIN_BLOCKS_PER_ARM} per arm)")
    burn_in = design.burn_in_hours
    if not _whole(burn_in) or burn_in < MIN_BURN_IN_HOURS:
        problems.append(f"burn_in_hours: {shown(burn_in, quote=False)} is not a whole number of "
                        f"hours, at least {MIN_BURN_IN_HOURS}")
    elif block_hours_ok and burn_in >= design.block_hours:
        problems.append(f"burn_in_hours: {burn_in} leaves nothing of a block of "
                        f"{design.block_hours} h to measure (it must be shorter than the block)")
    if design.metric not in METRICS:
        problems.append(f"metric: {shown(design.metric)} is not one of {', '.join(METRICS)}")
    seen: set[str] = set()
    for guardrail in design.guardrails:
        problems.extend(_guardrail_problems(guardrail, seen))
    return problems


def _guardrail_problems(guardrail: Any, seen: set[str]) -> list[str]:
    if not isinstance(guardrail, Guardrail):
        return [f"guardrail: {shown(guardrail)} is not a guardrail ({GUARDRAIL_FORMAT})"]
    problems = []
    if guardrail.metric not in METRICS:
        problems.append(f"guardrail: {shown(guardrail.metric)} is not one of {', '.join(METRICS)}")
    elif guardrail.metric in seen:
        problems.append(f"guardrail: {guardrail.metric} is given twice")
    seen.add(guardrail.metric)
    drop = guardrail.max_drop_pct
    if not isinstance(drop, Decimal) or not 0 < drop <= MAX_GUARDRAIL_PCT:
        problems.append(f"guardrail: {guardrail.metric}'s drop {shown(drop, quote=False)} is "
                        f"outside (0, {format_pct(MAX_GUARDRAIL_PCT)}] percent")
    return problems


# --- reading typed input (CLI, API, dashboard form) ----------------------------------------------

def parse_arms(text: Any) -> tuple[Split, ...]:
    """`"70/18/8/4,80/15/3/2"` -> splits, the control first (the CLI's `--arms`)."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationFailed('arms: must be splits like "80/15/3/2,70/18/8/4"')
    arms, problems = [], []
    for index, part in enumerate(text.split(",")):
        values = part.strip().split("/")
        if len(values) != len(BUCKETS):
            problems.append(f"arms: arm {index + 1} {shown(part.strip())} is not four "
                            "percentages like 80/15/3/2")
            continue
        try:
            arms.append(Split.of(*values))
        except ValueError as error:
            problems.append(f"arms: arm {index + 1}: {error}")
    if problems:
        raise ValidationFailed(*problems)
    return tuple(arms)


def parse_guardrail(text: Any) -> Guardrail:
    """`"volume_per_day:-10"` -> the volume per day must not fall by more than 10 %."""
    metric, sep, drop = str(text).partition(":") if isinstance(text, str) else ("", "", "")
    drop = drop.strip()
    if not sep or not drop.startswith("-"):
        raise ValidationFailed(f"guardrail: {shown(text)} is not {GUARDRAIL_FORMAT} "
                               "(e.g. volume_per_day:-10)")
    try:
        pct = to_decimal(drop[1:], "guardrail", places=GUARDRAIL_PLACES)
    except ValueError as error:
        raise ValidationFailed(str(error)) from None
    guardrail = Guardrail(metric.strip(), pct)
    problems = _guardrail_problems(guardrail, set())
    if problems:
        raise ValidationFailed(*problems)
    return guardrail


def parse_design(*, arms: Any, block_hours: Any, blocks: Any, burn_in_hours: Any = 0,
                 metric: Any = DEFAULT_METRIC, guardrails: Sequence[Any] = ()) -> ExperimentDesign:
    """A design from what a person typed (text or numbers), or ValidationFailed."""
    return ExperimentDesign(
        arms=parse_arms(arms) if isinstance(arms, str) else tuple(arms),
        block_hours=parse_whole(block_hours, "block_hours", minimum=MIN_BLOCK_HOURS,
                                maximum=MAX_BLOCK_HOURS),
        blocks=parse_whole(blocks, "blocks", minimum=1, maximum=MAX_BLOCKS),
        burn_in_hours=parse_whole(burn_in_hours, "burn_in_hours", minimum=MIN_BURN_IN_HOURS,
                                  maximum=MAX_BLOCK_HOURS),
        metric=metric,
        guardrails=tuple(g if isinstance(g, Guardrail) else parse_guardrail(g) for g in guardrails))


# --- when it runs ------------------------------------------------------------------------------

def next_whole_hour(now: datetime) -> datetime:
    """The default start: the next whole hour after `now` (UTC)."""
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def check_starts_at(starts_at: datetime, now: datetime) -> datetime:
    """A start must lie in the future: a schedule known in advance must not have begun unseen."""
    if starts_at.tzinfo is None:
        raise ValidationFailed("starts_at: must carry a time zone (UTC)")
    if starts_at <= now:
        raise ValidationFailed(f"starts_at: {starts_at.isoformat()} is not in the future "
                               f"(now is {now.isoformat()})")
    return starts_at.astimezone(UTC)


# --- the schedule and its commitment -------------------------------------------------------------

@dataclass(frozen=True)
class CommittedSchedule:
    """A drawn schedule (arm index per block, the control 0), its salt and their hash."""

    salt: str
    schedule: tuple[int, ...]

    @property
    def sha256(self) -> str:
        return schedule_sha256(self.salt, self.schedule)


def draw_schedule(design: ExperimentDesign, rng: random.Random | None = None,
                  salt: str | None = None) -> CommittedSchedule:
    """A balanced schedule: `design.rounds` rounds, each every arm once in a random order.

    The order comes from the operating system's randomness unless a test hands in a seeded
    `rng`: a schedule anyone could predict is one a launch could be timed to."""
    chooser = rng or secrets.SystemRandom()
    schedule: list[int] = []
    for _ in range(design.rounds):
        round_ = list(range(len(design.arms)))
        chooser.shuffle(round_)
        schedule.extend(round_)
    return CommittedSchedule(salt if salt is not None else secrets.token_hex(SALT_BYTES),
                             tuple(schedule))


def schedule_sha256(salt: str, schedule: Sequence[int]) -> str:
    """The published commitment: sha256(salt + ":" + "0,1,1,0,...") in hex (the CLI contract)."""
    text = salt + ":" + ",".join(str(arm) for arm in schedule)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def verify_schedule(sha256: str, salt: str, schedule: Sequence[int]) -> bool:
    """Does the revealed salt and schedule give the hash published at the start?"""
    return hmac.compare_digest(schedule_sha256(salt, schedule), sha256.lower())


def is_balanced(schedule: Sequence[int], arms: int) -> bool:
    """Whether the schedule is whole rounds, each holding every arm exactly once."""
    if arms < 1 or len(schedule) % arms:
        return False
    every = list(range(arms))
    return all(sorted(schedule[i:i + arms]) == every for i in range(0, len(schedule), arms))
