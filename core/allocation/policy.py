"""The allocation policy: bounds, step limits, approvals, expiry and auto-approval.

Pure data and its validation; storing and versioning it is in `core/governance/policy_store.py`.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from typing import Any

from core.allocation.money import parse_total
from core.allocation.split import BUCKETS, DEFAULT_SPLIT, Split
from core.base.errors import ValidationFailed
from core.base.parsing import to_decimal

# The seed's sustainability thresholds: crossing them is worth a warning even when the
# configured bounds allow it (they only matter when an admin widens the bounds).
SUSTAINABILITY_WARNINGS: dict[str, tuple[Decimal | None, Decimal | None, str, str]] = {
    "reinvestment": (Decimal(40), Decimal(90), "may reduce system sustainability",
                     "may reduce community incentives"),
    "dao": (Decimal(5), None, "may limit governance", ""),
    "lucky": (Decimal(1), None, "may reduce user engagement", ""),
    "creator": (Decimal(1), None, "may reduce builder activity", ""),
}
LOW_CONFIDENCE = Decimal("0.5")

# Keys added with the review issue, named once: messages are built from these.
APPROVALS_REQUIRED = "approvals_required"
APPROVALS_REQUIRED_MAJOR = "approvals_required_major"
MIN_HOURS_BETWEEN_ACTIVATIONS = "min_hours_between_activations"
MAX_DISTRIBUTION = "max_distribution"
# A new installation caps one distribution at a billion (an admin raises it or sets it to off):
# far above any real payout here, far below the 18 digits the ledger holds, so that a slip such as
# 1e15 is refused before it reaches the ledger. Policies stored with "off" keep it off.
DEFAULT_MAX_DISTRIBUTION = Decimal("1000000000.00")
MAX_STEP = "max_step"
# The trust issue: governors and admins give a current TOTP code to sign in and to review.
REQUIRE_TOTP = "require_totp"
DEFAULT_APPROVALS_REQUIRED_MAJOR = 2
# Keys added with the trust issue: the timelock queue between the last approval and the change
# (OpenZeppelin's TimelockController), and how many vetoes stop a queued change.
TIMELOCK_HOURS = "timelock_hours"
TIMELOCK_HOURS_MAJOR = "timelock_hours_major"
VETO_APPROVALS = "veto_approvals"
DEFAULT_TIMELOCK_HOURS_MAJOR = 24
# Keys added with the voting issue: what a community vote does, its quorum (percent of the
# snapshot's total, checkpointed when a proposal is filed), how long it stays open, and which
# holders snapshot new proposals take.
COMMUNITY_VOTE = "community_vote"
VOTE_QUORUM_PCT = "vote_quorum_pct"
VOTE_PERIOD_HOURS = "vote_period_hours"
VOTE_SNAPSHOT = "vote_snapshot"
VOTE_OFF, VOTE_ADVISORY, VOTE_BINDING_MAJOR = "off", "advisory", "binding_major"
COMMUNITY_VOTE_MODES = (VOTE_OFF, VOTE_ADVISORY, VOTE_BINDING_MAJOR)
DEFAULT_VOTE_QUORUM_PCT = Decimal(4)  # OpenZeppelin's example quorum fraction
DEFAULT_VOTE_PERIOD_HOURS = 72
LATEST_SNAPSHOT = "latest"
# How far a proposal moves the split decides how many approvals it needs (Aave separates a
# steward's small update from a full governance vote the same way).
MINOR, MAJOR = "minor", "major"
TIERS = (MINOR, MAJOR)


def _default_bounds() -> dict[str, tuple[Decimal, Decimal]]:
    return {
        "reinvestment": (Decimal(40), Decimal(90)),
        "dao": (Decimal(5), Decimal(30)),
        "lucky": (Decimal(1), Decimal(15)),
        "creator": (Decimal(1), Decimal(10)),
    }


@dataclass(frozen=True)
class Policy:
    bounds: dict[str, tuple[Decimal, Decimal]] = field(default_factory=_default_bounds)
    max_step: Decimal = Decimal(15)
    min_delta: Decimal = Decimal(2)
    approvals_required: int = 1
    approvals_required_major: int = DEFAULT_APPROVALS_REQUIRED_MAJOR
    min_hours_between_activations: int = 0  # 0: off
    max_distribution: Decimal | None = DEFAULT_MAX_DISTRIBUTION  # None: off
    proposal_lifetime_hours: int = 7 * 24
    auto_approve_min_confidence: Decimal | None = None
    auto_approve_cooldown_hours: int = 72
    distributions_paused: bool = False
    rebalancing_paused: bool = False
    require_totp: bool = False
    baseline: Split = DEFAULT_SPLIT
    timelock_hours: int = 0  # minor changes: 0 activates at the last approval, as before
    timelock_hours_major: int = DEFAULT_TIMELOCK_HOURS_MAJOR  # major ones and governance changes
    veto_approvals: int = 1
    community_vote: str = VOTE_OFF
    vote_quorum_pct: Decimal = DEFAULT_VOTE_QUORUM_PCT
    vote_period_hours: int = DEFAULT_VOTE_PERIOD_HOURS
    vote_snapshot: str = LATEST_SNAPSHOT  # a snapshot's id, or LATEST_SNAPSHOT

    def approvals_for(self, tier: str) -> int:
        """Approvals a proposal of this tier needs."""
        return self.approvals_required_major if tier == MAJOR else self.approvals_required

    def timelock_for(self, tier: str) -> int:
        """Hours a change of this tier waits in the queue after its last approval."""
        return self.timelock_hours_major if tier == MAJOR else self.timelock_hours

    @property
    def governors_needed(self) -> int:
        """How many distinct governors must stay able to approve, or every proposal deadlocks
        (a major change needing more only waits for governors to be added)."""
        return self.approvals_required

    def as_dict(self) -> dict[str, Any]:
        """Flat key/value form, the keys of `policy set`."""
        flat: dict[str, Any] = {}
        for bucket in BUCKETS:
            low, high = self.bounds[bucket]
            flat[f"{bucket}_min"], flat[f"{bucket}_max"] = low, high
        data = asdict(self)
        for key in POLICY_KEYS:
            if key not in flat and key in data:
                flat[key] = data[key]
        for bucket in BUCKETS:
            flat[f"baseline_{bucket}"] = getattr(self.baseline, bucket)
        return flat

    def as_json(self) -> dict[str, Any]:
        data = {k: _jsonable(v) for k, v in self.as_dict().items()}
        # Money is a string holding the exact decimal (the CLI contract), never a float.
        if self.max_distribution is not None:
            data[MAX_DISTRIBUTION] = str(self.max_distribution)
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


# Keys that count approvals by distinct governors: none may be set above the active governors.
GOVERNOR_COUNT_KEYS = (APPROVALS_REQUIRED, APPROVALS_REQUIRED_MAJOR)
POLICY_KEYS: tuple[str, ...] = tuple(
    [f"{b}_{end}" for b in BUCKETS for end in ("min", "max")]
    + [MAX_STEP, "min_delta", APPROVALS_REQUIRED, APPROVALS_REQUIRED_MAJOR,
       "proposal_lifetime_hours", "auto_approve_min_confidence", "auto_approve_cooldown_hours",
       MIN_HOURS_BETWEEN_ACTIVATIONS, MAX_DISTRIBUTION,
       "distributions_paused", "rebalancing_paused", TIMELOCK_HOURS, TIMELOCK_HOURS_MAJOR,
       VETO_APPROVALS, REQUIRE_TOTP, COMMUNITY_VOTE, VOTE_QUORUM_PCT, VOTE_PERIOD_HOURS,
       VOTE_SNAPSHOT]
    + [f"baseline_{b}" for b in BUCKETS]
)
# What `policy set` takes: the stored keys, except that the baseline is set as a whole
# ("80/15/3/2"), since changing one of its buckets alone could never keep the sum at 100.
SETTABLE_KEYS: tuple[str, ...] = tuple(k for k in POLICY_KEYS if not k.startswith("baseline_")) + (
    "baseline",)


def _parse_bool(key: str, raw: Any) -> bool:
    text = str(raw).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValidationFailed(f"{key}: {raw!r} is not true or false")


MAX_HOURS = 10 * 365 * 24  # ten years: beyond that a lifetime or cooldown is a typo


def _parse_int(key: str, raw: Any, minimum: int, maximum: int | None = None) -> int:
    try:
        number = to_decimal(raw, key)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None
    if number != number.to_integral_value():
        raise ValidationFailed(f"{key}: {raw} is not a whole number")
    if number < minimum:
        raise ValidationFailed(f"{key}: {raw} is below the minimum {minimum}")
    if maximum is not None and number > maximum:
        raise ValidationFailed(f"{key}: {raw} is above the maximum {maximum}")
    return int(number)


def _parse_pct(key: str, raw: Any) -> Decimal:
    try:
        number = to_decimal(raw, key, places=2)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None
    if not Decimal(0) <= number <= Decimal(100):
        raise ValidationFailed(f"{key}: {raw} is outside 0..100")
    return number


def with_setting(policy: Policy, key: str, raw: Any) -> Policy:
    """Return a copy of `policy` with one key changed, parsed from text and checked as a whole."""
    if key not in SETTABLE_KEYS:
        raise ValidationFailed(f"{key}: unknown policy key (known: {', '.join(SETTABLE_KEYS)})")
    if key.endswith(("_min", "_max")) and key.split("_")[0] in BUCKETS:
        bucket, end = key.rsplit("_", 1)
        low, high = policy.bounds[bucket]
        value = _parse_pct(key, raw)
        bounds = dict(policy.bounds)
        bounds[bucket] = (value, high) if end == "min" else (low, value)
        updated = replace(policy, bounds=bounds)
    elif key == "baseline":
        updated = replace(policy, baseline=_parse_baseline(raw))
    elif key in ("max_step", "min_delta"):
        updated = replace(policy, **{key: _parse_pct(key, raw)})
    elif key in (APPROVALS_REQUIRED, APPROVALS_REQUIRED_MAJOR):
        updated = replace(policy, **{key: _parse_int(key, raw, 1, 100)})
    elif key == VETO_APPROVALS:
        updated = replace(policy, **{key: _parse_int(key, raw, 1, 100)})
    elif key in ("proposal_lifetime_hours", "auto_approve_cooldown_hours",
                 MIN_HOURS_BETWEEN_ACTIVATIONS, TIMELOCK_HOURS, TIMELOCK_HOURS_MAJOR):
        updated = replace(policy, **{key: _parse_int(
            key, raw, 1 if key == "proposal_lifetime_hours" else 0, MAX_HOURS)})
    elif key == MAX_DISTRIBUTION:
        updated = replace(policy, max_distribution=_parse_max_distribution(raw))
    elif key == COMMUNITY_VOTE:
        updated = replace(policy, community_vote=_parse_choice(key, raw, COMMUNITY_VOTE_MODES))
    elif key == VOTE_QUORUM_PCT:
        updated = replace(policy, vote_quorum_pct=_parse_pct(key, raw))
    elif key == VOTE_PERIOD_HOURS:
        updated = replace(policy, vote_period_hours=_parse_int(key, raw, 1, MAX_HOURS))
    elif key == VOTE_SNAPSHOT:
        updated = replace(policy, vote_snapshot=parse_snapshot_choice(raw))
    elif key == "auto_approve_min_confidence":
        updated = replace(policy, auto_approve_min_confidence=_parse_confidence_threshold(raw))
    else:
        updated = replace(policy, **{key: _parse_bool(key, raw)})
    check_policy(updated)
    return updated


def _parse_choice(key: str, raw: Any, choices: tuple[str, ...]) -> str:
    text = str(raw).strip().lower()
    if text not in choices:
        raise ValidationFailed(f"{key}: {raw!r} is not one of {', '.join(choices)}")
    return text


def parse_snapshot_choice(raw: Any) -> str:
    """`latest`, or a snapshot's id (a UUID) in its canonical text; whether that snapshot exists
    is the store's question (core/governance/policy_store.py)."""
    text = str(raw).strip().lower()
    if text == LATEST_SNAPSHOT:
        return text
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise ValidationFailed(f"{VOTE_SNAPSHOT}: {raw!r} is neither {LATEST_SNAPSHOT} nor a "
                               "snapshot id (a UUID, as `voting snapshot` prints it)") from None


def _parse_baseline(raw: Any) -> Split:
    parts = str(raw).replace(",", "/").split("/")
    if len(parts) != len(BUCKETS):
        raise ValidationFailed(f"baseline: {raw!r} is not four percentages like 80/15/3/2")
    values = {bucket: _parse_pct(f"baseline {bucket}", part) for bucket, part in zip(BUCKETS, parts)}
    return Split(**values)


def _parse_max_distribution(raw: Any) -> Decimal | None:
    if raw is None or str(raw).strip().lower() in ("off", "none", ""):
        return None
    limit = parse_total(raw, field=MAX_DISTRIBUTION)
    if limit <= 0:
        raise ValidationFailed(f"{MAX_DISTRIBUTION}: {raw} must be above 0 (or 'off')")
    return limit


def _parse_confidence_threshold(raw: Any) -> Decimal | None:
    if raw is None or str(raw).strip().lower() in ("off", "none", ""):
        return None
    try:
        number = to_decimal(raw, "auto_approve_min_confidence")
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None
    if not Decimal(0) <= number <= Decimal(1):
        raise ValidationFailed(f"auto_approve_min_confidence: {raw} is outside 0..1 (or 'off')")
    return number


def check_policy(policy: Policy) -> None:
    """Refuse a policy no split could satisfy, or one that makes no sense."""
    problems: list[str] = []
    for bucket in BUCKETS:
        low, high = policy.bounds[bucket]
        if low > high:
            problems.append(f"{bucket}_min: {low} is above {bucket}_max {high}")
    if sum(low for low, _ in policy.bounds.values()) > 100:
        problems.append("bounds: the minimums sum to more than 100, no split can satisfy them")
    if sum(high for _, high in policy.bounds.values()) < 100:
        problems.append("bounds: the maximums sum to less than 100, no split can satisfy them")
    if policy.max_step <= 0:
        problems.append("max_step: must be above 0")
    if policy.min_delta <= 0:
        # Zero would let the rebalancer file proposals that change nothing.
        problems.append("min_delta: must be above 0")
    if policy.approvals_required < 1:
        problems.append(f"{APPROVALS_REQUIRED}: must be at least 1")
    if policy.approvals_required_major < policy.approvals_required:
        problems.append(
            f"{APPROVALS_REQUIRED_MAJOR}: {policy.approvals_required_major} is below "
            f"{APPROVALS_REQUIRED} {policy.approvals_required}; a major change never needs fewer "
            "approvals than a minor one")
    if policy.timelock_hours_major < policy.timelock_hours:
        problems.append(
            f"{TIMELOCK_HOURS_MAJOR}: {policy.timelock_hours_major} is below {TIMELOCK_HOURS} "
            f"{policy.timelock_hours}; a major change never waits less than a minor one")
    if policy.community_vote != VOTE_OFF and \
            policy.vote_period_hours >= policy.proposal_lifetime_hours:
        # Otherwise a proposal could expire, or stop being reviewable, before its vote closes.
        problems.append(
            f"{VOTE_PERIOD_HOURS}: {policy.vote_period_hours} is not below "
            f"proposal_lifetime_hours {policy.proposal_lifetime_hours}; with {COMMUNITY_VOTE} "
            f"{policy.community_vote}, a vote must close while its proposal can still be decided")
    # The baseline may lie outside narrowed bounds: the rule engine clamps its target into them.
    if policy.baseline.total != 100:
        problems.append(f"baseline: the four sum to {policy.baseline.total}, not 100")
    if problems:
        raise ValidationFailed(*problems)


def policy_from_dict(data: dict[str, Any]) -> Policy:
    """Rebuild a policy from its stored flat form (`as_json`); missing keys take the defaults."""
    defaults = Policy().as_dict()
    merged = {**defaults, **{k: v for k, v in data.items() if k in POLICY_KEYS}}

    def dec(key: str) -> Decimal:
        return Decimal(str(merged[key]))

    threshold = merged["auto_approve_min_confidence"]
    limit = merged[MAX_DISTRIBUTION]
    approvals = int(merged[APPROVALS_REQUIRED])
    # Policies stored before the major tier existed: it needs at least the minor count.
    major = int(data[APPROVALS_REQUIRED_MAJOR]) if APPROVALS_REQUIRED_MAJOR in data else max(
        approvals, DEFAULT_APPROVALS_REQUIRED_MAJOR)
    return Policy(
        bounds={b: (dec(f"{b}_min"), dec(f"{b}_max")) for b in BUCKETS},
        max_step=dec("max_step"),
        min_delta=dec("min_delta"),
        approvals_required=approvals,
        approvals_required_major=major,
        min_hours_between_activations=int(merged[MIN_HOURS_BETWEEN_ACTIVATIONS]),
        max_distribution=None if limit is None else Decimal(str(limit)),
        proposal_lifetime_hours=int(merged["proposal_lifetime_hours"]),
        auto_approve_min_confidence=None if threshold is None else Decimal(str(threshold)),
        auto_approve_cooldown_hours=int(merged["auto_approve_cooldown_hours"]),
        distributions_paused=bool(merged["distributions_paused"]),
        rebalancing_paused=bool(merged["rebalancing_paused"]),
        require_totp=bool(merged[REQUIRE_TOTP]),
        baseline=Split(**{b: dec(f"baseline_{b}") for b in BUCKETS}),
        timelock_hours=int(merged[TIMELOCK_HOURS]),
        timelock_hours_major=int(merged[TIMELOCK_HOURS_MAJOR]),
        veto_approvals=int(merged[VETO_APPROVALS]),
        community_vote=str(merged[COMMUNITY_VOTE]),
        vote_quorum_pct=dec(VOTE_QUORUM_PCT),
        vote_period_hours=int(merged[VOTE_PERIOD_HOURS]),
        vote_snapshot=str(merged[VOTE_SNAPSHOT]),
    )
