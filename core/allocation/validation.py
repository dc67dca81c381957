"""Pure validation of a proposed split: errors block it, warnings do not."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from core.allocation.policy import (APPROVALS_REQUIRED_MAJOR, LOW_CONFIDENCE, MAJOR, MAX_STEP,
                                    MINOR, SUSTAINABILITY_WARNINGS, Policy)
from core.allocation.split import BUCKETS, HUNDRED, PERCENT_PLACES, Split, format_pct
from core.base.parsing import TEXT_LIMITS, shown, text_problem
from core.base.parsing import to_decimal

PROPOSERS = ("ai", "manual", "system")
CONFIDENCE_UNIT = Decimal("0.0001")


@dataclass(frozen=True)
class ProposalInput:
    """A proposal as a caller hands it in: values may still be text, floats or garbage."""

    reinvestment: Any
    dao: Any
    lucky: Any
    creator: Any
    reasoning: Any = ""
    confidence: Any = Decimal(1)
    proposed_by: Any = "manual"
    input_metrics: dict[str, Any] | None = None


@dataclass(frozen=True)
class ValidationResult:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    split: Split | None = None
    confidence: Decimal | None = None
    tier: str | None = None  # "minor"/"major" against the live split, when one was given

    @property
    def valid(self) -> bool:
        return not self.errors

    def as_json(self) -> dict[str, Any]:
        # `ok` too: a failed validation is a refusal, which the CLI contract marks with ok: false.
        return {"valid": self.valid, "ok": self.valid, "errors": self.errors,
                "warnings": self.warnings, "tier": self.tier}


def _parse_split(proposal: ProposalInput, errors: list[str]) -> tuple[Split | None, dict[str, Decimal]]:
    """The split, when all four are numbers of at most PERCENT_PLACES places; and every value
    that is a number at all, so the bounds are checked on it too: 95/3/1.555/0.445 is told
    about its decimals and its bounds at once."""
    numbers: dict[str, Decimal] = {}
    exact = True
    for bucket in BUCKETS:
        raw = getattr(proposal, bucket)
        try:
            numbers[bucket] = to_decimal(raw, bucket)
            to_decimal(raw, bucket, places=PERCENT_PLACES)
        except ValueError as exc:
            errors.append(str(exc))
            exact = False
    whole = exact and len(numbers) == len(BUCKETS)
    return (Split(**numbers) if whole else None), numbers


def _bound_errors(values: dict[str, Decimal], policy: Policy) -> list[str]:
    errors = []
    for bucket, value in values.items():
        low, high = policy.bounds[bucket]
        if value < low:
            errors.append(f"{bucket}: {format_pct(value)} is below the minimum {format_pct(low)}")
        elif value > high:
            errors.append(f"{bucket}: {format_pct(value)} is above the maximum {format_pct(high)}")
    return errors


def step_errors(split: Split, live: Split, max_step: Decimal) -> list[str]:
    """Buckets that move more than `max_step` points from the live split."""
    problems = []
    for bucket, moved in split.delta(live).items():
        if abs(moved) > max_step:
            problems.append(
                f"{bucket}: moves {format_pct(abs(moved))} points from the live split "
                f"({format_pct(getattr(live, bucket))} -> {format_pct(getattr(split, bucket))}), "
                f"more than the step limit {format_pct(max_step)}"
            )
    return problems


def proposal_tier(split: Split, live: Split, policy: Policy) -> str:
    """"major" when any bucket moves more than the policy's step limit from `live`, else
    "minor". A major change needs `approvals_required_major` and is never auto-approved."""
    return MAJOR if step_errors(split, live, policy.max_step) else MINOR


def major_change_note(policy: Policy) -> str:
    """What a major change means, in the words every medium shows."""
    return (f"tier: a major change (a bucket moves more than {MAX_STEP} "
            f"{format_pct(policy.max_step)} points): it needs {policy.approvals_required_major} "
            f"approvals ({APPROVALS_REQUIRED_MAJOR}) and is never auto-approved")


def _sustainability_warnings(split: Split) -> list[str]:
    warnings = []
    for bucket, (low, high, low_note, high_note) in SUSTAINABILITY_WARNINGS.items():
        value = getattr(split, bucket)
        if low is not None and value < low:
            warnings.append(f"{bucket}: {format_pct(value)} is under {format_pct(low)}, {low_note}")
        if high is not None and value > high:
            warnings.append(f"{bucket}: {format_pct(value)} is over {format_pct(high)}, {high_note}")
    return warnings


def _parse_confidence(raw: Any, errors: list[str], warnings: list[str]) -> Decimal | None:
    try:
        confidence = to_decimal(raw, "confidence")
    except ValueError as exc:
        errors.append(str(exc))
        return None
    if not Decimal(0) <= confidence <= Decimal(1):
        errors.append(f"confidence: {confidence} is outside 0..1")
        return None
    # The column holds 4 places: round here as PostgreSQL would, so the value validated is the
    # value stored (and 1e-999999999 cannot overflow PostgreSQL's numeric on insert).
    confidence = confidence.quantize(CONFIDENCE_UNIT, rounding=ROUND_HALF_UP)
    if confidence < LOW_CONFIDENCE:
        warnings.append(f"confidence: {format_pct(confidence)} is below {LOW_CONFIDENCE}, "
                        "consider gathering more data")
    return confidence


def validate_proposal(
    proposal: ProposalInput, *, policy: Policy, live: Split | None = None
) -> ValidationResult:
    """Check a proposal against the policy and, when given, the live split. Never raises."""
    errors: list[str] = []
    warnings: list[str] = []
    tier = None
    split, numbers = _parse_split(proposal, errors)
    # The total only of exact values: summing 1e-999999999 exactly would take a billion digits,
    # and rounding it would make up a total. Bounds are compared exactly, whatever was typed.
    if split is not None and split.total != HUNDRED:
        errors.append(f"total: the four sum to {format_pct(split.total)}, not exactly 100")
    errors.extend(_bound_errors(numbers, policy))
    if split is not None:
        warnings.extend(_sustainability_warnings(split))
        if live is not None:
            steps = step_errors(split, live, policy.max_step)
            tier = MAJOR if steps else MINOR
            warnings.extend(steps + ([major_change_note(policy)] if steps else []))
    confidence = _parse_confidence(proposal.confidence, errors, warnings)
    reasoning = proposal.reasoning
    if not isinstance(reasoning, str) or not reasoning.strip():
        errors.append("reasoning: must not be empty")
    elif problem := text_problem(reasoning, TEXT_LIMITS["reasoning"]):
        errors.append(f"reasoning: {problem}")
    if proposal.proposed_by not in PROPOSERS:
        errors.append(f"proposed_by: {shown(proposal.proposed_by)} is not one of {', '.join(PROPOSERS)}")
    return ValidationResult(errors, warnings, split, confidence, tier)
