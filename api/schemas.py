"""Request and response models, and the problem details every refusal answers with.

Request values are checked by core's own parsers, so a refusal reads exactly as on the CLI
(`dao: 31.555 has more than 2 decimal places`) and arrives as 422 before core is called. What the
OpenAPI document says about a value (`WithJsonSchema`: an enum, a pattern, a length) is built from
the same constants core checks against, so a client generated from the document sends what core
takes. Core stays lenient past the document (money may also come as a JSON number or `1,000.50`).

Response models describe the documents core's `as_json()` make (the CLI prints the same ones):
FastAPI checks each answer against them, and they allow fields they do not name (`extra="allow"`),
so a field core adds reaches the caller without an edit here.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, ValidationInfo,
                      WithJsonSchema)

from core.allocation.money import parse_total
from core.allocation.split import BUCKETS, PERCENT_PLACES, Split
from core.allocation.validation import PROPOSERS
from core.base.errors import DomainError
from core.base.parsing import (EARLIEST_DATE, LATEST_DATE, MAX_LIST_LIMIT, MAX_NUMBER_TEXT,
                               MAX_TOTAL, TEXT_LIMITS, parse_instant, parse_whole, to_decimal)
from core.experiments.analysis import SEED
from core.experiments.design import (DEFAULT_METRIC, GUARDRAIL_FORMAT, MAX_ARMS, MAX_BLOCK_HOURS,
                                     MAX_BLOCKS, MIN_ARMS, MIN_BLOCK_HOURS, MIN_BURN_IN_HOURS,
                                     METRICS, parse_guardrail)
from core.experiments.power import (DEFAULT_RUNS, MAX_EFFECT_PCT, MIN_EFFECT_PCT, MIN_RUNS)
from core.experiments.service import MAX_SEED
from core.governance.second_factor import DIGITS as TOTP_DIGITS
from core.platform_data.metrics_model import METRIC_KEYS, METRIC_LIMITS, PlatformMetrics
from core.allocation.records import TIMELINE_EVENTS
from core.proposals import lifecycle
from core.proposals.lifecycle import DECISIONS
from core.rebalancer.service import ENGINE_CHOICES
from core.voting.addresses import ADDRESS_HEX_DIGITS, parse_address
from core.voting.merkle import HASH_BYTES
from core.voting.terms import CLOSED, OPEN
from core.voting.typed_data import (MAX_CHAIN_ID, MAX_TIMESTAMP, SIGNATURE_BYTES, SUPPORTS,
                                    parse_signature, parse_support, parse_timestamp)
from db.models import EXPERIMENT_STATUSES, GOVERNANCE_STATUSES, STATUSES
from db.models import PROPOSERS as LOGGED_PROPOSERS
from settings import get_settings

# --- how the document describes a value -------------------------------------------------------


def _places(minor_unit: Decimal) -> int:
    return max(0, -int(minor_unit.as_tuple().exponent))


def money_pattern(minor_unit: Decimal) -> str:
    """Money as the document writes it, above zero: digits (fewer than MAX_TOTAL has) and at most
    the currency's decimal places; e.g. `1000.03` or `0.5`."""
    digits = len(str(int(MAX_TOTAL))) - 1
    places = _places(minor_unit)
    whole = rf"0*[1-9][0-9]{{0,{digits - 1}}}" + (rf"(\.[0-9]{{1,{places}}})?" if places else "")
    if not places:
        return f"^{whole}$"
    # Under one: some fraction digit is not zero.
    fraction = "|".join(rf"0{{{k}}}[1-9][0-9]{{0,{places - k - 1}}}" for k in range(places))
    return rf"^({whole}|0*\.({fraction}))$"


MONEY_IN = {"type": "string", "pattern": money_pattern(get_settings().minor_unit),
            "maxLength": MAX_NUMBER_TEXT, "examples": ["1000.03"],
            "description": "an exact amount, as a string"}
MONEY_OUT = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$", "examples": ["800.02"]}
PERCENT = {"type": "number", "minimum": 0, "maximum": 100,
           "description": f"percent, at most {PERCENT_PLACES} decimal places"}
INSTANT = {"type": "string", "format": "date-time"}
DAY = {"type": "string", "format": "date"}
# A date asked about lies in EARLIEST_DATE..LATEST_DATE; the pattern keeps to its first century.
DAY_ASKED = {**DAY, "pattern": rf"^{EARLIEST_DATE.year // 100}[0-9]{{2}}-",
             "description": f"{EARLIEST_DATE}..{LATEST_DATE}"}


# core.base.parsing.text_problem's rule: no control character but tab and line breaks (NUL
# included); a required text also holds something besides spaces. Held to it by a test.
_TEXT_CHAR = r"[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]"
_VISIBLE_CHAR = r"[^\s\u0000-\u001F\u007F]"
TEXT_PATTERN = f"^{_TEXT_CHAR}*$"
REQUIRED_TEXT_PATTERN = f"^{_TEXT_CHAR}*{_VISIBLE_CHAR}{_TEXT_CHAR}*$"


def text(field: str, *, required: bool = True) -> dict[str, Any]:
    return {"type": "string", "maxLength": TEXT_LIMITS[field],
            "pattern": REQUIRED_TEXT_PATTERN if required else TEXT_PATTERN,
            **({"minLength": 1} if required else {})}


def one_of(choices: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "string", "enum": list(choices)}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


# --- requests ---------------------------------------------------------------------------------


class CoreProblems(ValueError):
    """Core's messages, carried through pydantic to api/errors.py unchanged."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def core_rule(parse: Callable[[Any, str], Any]) -> BeforeValidator:
    """A field checked by `parse(value, field_name)`, which raises core's errors."""

    def check(value: Any, info: ValidationInfo) -> Any:
        try:
            return parse(value, info.field_name or "")
        except DomainError as error:
            raise CoreProblems(error.problems) from None
        except ValueError as error:
            raise CoreProblems([str(error)]) from None

    return BeforeValidator(check)


def _one_of(choices: tuple[str, ...]) -> Callable[[Any, str], str]:
    def parse(value: Any, field: str) -> str:
        if value not in choices:
            raise ValueError(f"{field}: {value!r} is not one of {', '.join(choices)}")
        return value
    return parse


def _money(value: Any, field: str) -> Decimal | None:
    return None if value is None else parse_total(value, get_settings().minor_unit, field)


Percent = Annotated[Decimal, core_rule(lambda v, f: to_decimal(v, f, places=PERCENT_PLACES)),
                    WithJsonSchema(PERCENT)]
Money = Annotated[Decimal, core_rule(_money), WithJsonSchema(MONEY_IN)]
OptionalMoney = Annotated[Decimal | None, core_rule(_money), WithJsonSchema(nullable(MONEY_IN))]
Totp = Annotated[str | None, WithJsonSchema(nullable(
    {"type": "string", "pattern": f"^[0-9]{{{TOTP_DIGITS}}}$"}))]


class Body(BaseModel):
    # An unknown field is refused, not ignored: a typo ("dao_pct") must not pass as a default.
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


def _metric(key: str, kind: str = "number", minimum: float = 0,
            maximum: float | None = None) -> WithJsonSchema:
    """A metric as PlatformMetrics.from_json bounds it (METRIC_LIMITS: the plausible sizes)."""
    top = METRIC_LIMITS[key] if maximum is None else maximum
    return WithJsonSchema({"type": kind, "minimum": minimum,
                           "maximum": int(top) if kind == "integer" else top})


class MetricsIn(BaseModel):
    """The documented shape of `metrics` (PlatformMetrics.from_json checks it)."""

    model_config = ConfigDict(extra="forbid")
    growth_rate_pct: Annotated[float, _metric("growth_rate_pct", minimum=-100)]
    engagement_score: Annotated[float, _metric("engagement_score", maximum=100)]
    dao_balance_usd: Annotated[float, _metric("dao_balance_usd")]
    avg_token_price_usd: Annotated[float, _metric("avg_token_price_usd")]
    tokens_launched_7d: Annotated[int, _metric("tokens_launched_7d", "integer")]
    days_of_data: Annotated[int, _metric("days_of_data", "integer")]


assert tuple(MetricsIn.model_fields) == METRIC_KEYS, "MetricsIn must name core's metric keys"


class RebalanceBody(Body):
    engine: Annotated[str, core_rule(_one_of(ENGINE_CHOICES)),
                      WithJsonSchema(one_of(ENGINE_CHOICES))] = "auto"
    dry_run: StrictBool = False
    metrics: Annotated[Any, core_rule(lambda v, f: None if v is None
                                      else PlatformMetrics.from_json(v)),
                       WithJsonSchema(nullable({"$ref": "#/components/schemas/MetricsIn"}))] = None


class DistributionBody(Body):
    profit: Money
    key: Annotated[str, WithJsonSchema(text("key"))]
    # The same amount again, for one over ten times the largest distribution so far.
    confirm_total: OptionalMoney = None


class ProposalBody(Body):
    reinvestment: Percent
    dao: Percent
    lucky: Percent
    creator: Percent
    reasoning: Annotated[str, WithJsonSchema(text("reasoning"))]
    confidence: Annotated[Decimal, core_rule(lambda v, f: to_decimal(v, f)),
                          WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1})] = Decimal(1)
    # A token's owner files `manual` proposals; the other labels are the rebalancer's (403).
    proposed_by: Annotated[str, core_rule(_one_of(PROPOSERS)),
                           WithJsonSchema(one_of(PROPOSERS))] = "manual"


class ReviewBody(Body):
    decision: Annotated[str, core_rule(_one_of(DECISIONS)), WithJsonSchema(one_of(DECISIONS))]
    notes: Annotated[str | None, WithJsonSchema(nullable(text("notes", required=False)))] = None
    totp: Totp = None  # the reviewer's current code, when the policy requires TOTP


class VetoBody(Body):
    reason: Annotated[str, WithJsonSchema(text("notes"))]  # a veto's reason is as long as notes
    totp: Totp = None  # the governor's current code, when the policy requires TOTP


# --- experiments (core/experiments) -----------------------------------------------------------

# A simulation replays the design `runs` times (about 6 ms a replay of 28 blocks on this
# machine's demo data): over HTTP at most this many, so one request costs seconds, not the
# minute core's own maximum (core.experiments.power.MAX_RUNS, the CLI's) would take; and one at
# a time per server process (api/routes.py).
SIMULATION_RUNS_OVER_HTTP = 1000

SPLIT_IN = {"type": "object", "properties": {bucket: PERCENT for bucket in BUCKETS},
            "required": list(BUCKETS), "additionalProperties": False}


def _arms(value: Any, field: str) -> tuple[Split, ...]:
    """A list of splits, each `{"reinvestment", "dao", "lucky", "creator"}`, numbered from 1 in
    messages as `--arms` numbers them; how many and their sums are the design's rules (core)."""
    if not isinstance(value, list):
        raise ValueError(f"{field}: must be a list of splits, the control first")
    arms, problems = [], []
    for index, item in enumerate(value, start=1):
        extra = sorted(set(item) - set(BUCKETS)) if isinstance(item, dict) else []
        if not isinstance(item, dict) or extra:
            unknown = f" ({', '.join(map(str, extra))} is not a bucket)" if extra else ""
            problems.append(f"{field}: arm {index} is not a split of "
                            f"{', '.join(BUCKETS)}{unknown}")
            continue
        try:
            arms.append(Split.from_mapping(item))
        except ValueError as error:
            problems.append(f"{field}: arm {index}: {error}")
    if problems:
        raise CoreProblems(problems)
    return tuple(arms)


def _whole(minimum: int, maximum: int) -> Callable[[Any, str], int]:
    return lambda value, field: parse_whole(value, field, minimum=minimum, maximum=maximum)


def whole(minimum: int, maximum: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


def _guardrails(value: Any, field: str) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise ValueError(f"{field}: must be a list like [\"volume_per_day:-10\"]")
    return tuple(parse_guardrail(item) for item in value)


GUARDRAIL = {"type": "string", "pattern": rf"^({'|'.join(METRICS)}):-[0-9]+(\.[0-9]{{1,2}})?$",
             "examples": ["volume_per_day:-10"],
             "description": f"{GUARDRAIL_FORMAT}: the metric must not fall more than PCT % "
                            "against the control"}


class DesignBody(Body):
    """A switchback design: the CLI's `experiment create`/`simulate` options."""

    arms: Annotated[tuple[Split, ...], core_rule(_arms), WithJsonSchema(
        {"type": "array", "items": SPLIT_IN, "minItems": MIN_ARMS, "maxItems": MAX_ARMS,
         "description": "the splits to run in turn, the control first"})]
    block_hours: Annotated[int, core_rule(_whole(MIN_BLOCK_HOURS, MAX_BLOCK_HOURS)),
                           WithJsonSchema(whole(MIN_BLOCK_HOURS, MAX_BLOCK_HOURS))]
    blocks: Annotated[int, core_rule(_whole(1, MAX_BLOCKS)), WithJsonSchema(
        {**whole(1, MAX_BLOCKS), "description": "a multiple of the number of arms, at least two "
                                                "per arm"})]
    burn_in_hours: Annotated[int, core_rule(_whole(MIN_BURN_IN_HOURS, MAX_BLOCK_HOURS)),
                             WithJsonSchema({**whole(MIN_BURN_IN_HOURS, MAX_BLOCK_HOURS - 1),
                                             "description": "shorter than a block"})] = 0
    metric: Annotated[str, core_rule(_one_of(tuple(METRICS))),
                      WithJsonSchema(one_of(tuple(METRICS)))] = DEFAULT_METRIC


class ExperimentBody(DesignBody):
    guardrails: Annotated[tuple[Any, ...], core_rule(_guardrails), WithJsonSchema(
        {"type": "array", "items": GUARDRAIL, "maxItems": len(METRICS)})] = ()
    # In the future; default the next whole hour (core.experiments.design.next_whole_hour).
    starts_at: Annotated[Any, core_rule(lambda v, f: None if v is None else parse_instant(v, f)),
                         WithJsonSchema(nullable(INSTANT))] = None
    reasoning: Annotated[str, WithJsonSchema(text("reasoning"))]


class SimulationBody(DesignBody):
    from_: Annotated[Any, Field(alias="from"), core_rule(lambda v, f: parse_instant(v, "from")),
                     WithJsonSchema({**INSTANT, "description": "replay the recorded figures "
                                                               "from this moment"})]
    effect_pct: Annotated[Decimal, core_rule(lambda v, f: to_decimal(v, f)), WithJsonSchema(
        {"type": "number", "minimum": MIN_EFFECT_PCT, "maximum": MAX_EFFECT_PCT})] = Decimal(0)
    runs: Annotated[int, core_rule(_whole(MIN_RUNS, SIMULATION_RUNS_OVER_HTTP)),
                    WithJsonSchema(whole(MIN_RUNS, SIMULATION_RUNS_OVER_HTTP))] = DEFAULT_RUNS
    seed: Annotated[int, core_rule(_whole(0, MAX_SEED)), WithJsonSchema(whole(0, MAX_SEED))] = SEED


class StopBody(Body):
    reason: Annotated[str, WithJsonSchema(text("notes"))]  # as long as a review's notes
    totp: Totp = None  # the governor's current code, when the policy requires TOTP


class AdoptBody(Body):
    """`experiment adopt --arm K` (the filer is the token's account)."""

    arm: Annotated[int, core_rule(_whole(0, MAX_ARMS - 1)), WithJsonSchema(
        {**whole(0, MAX_ARMS - 1), "description": "the arm whose split to propose, 0 the control"})]


# Query parameters: what the document says; core reads the text and refuses it in its words.
PROPOSAL_STATUS = one_of((lifecycle.WAITING, *STATUSES))
GOVERNANCE_STATUS = one_of((lifecycle.WAITING, *GOVERNANCE_STATUSES))
LIMIT = {"type": "integer", "minimum": 1, "maximum": MAX_LIST_LIMIT}

# --- responses --------------------------------------------------------------------------------

Pct = Annotated[int | float, WithJsonSchema(PERCENT)]
Instant = Annotated[str, WithJsonSchema(INSTANT)]
MaybeInstant = Annotated[str | None, WithJsonSchema(nullable(INSTANT))]
Amount = Annotated[str, WithJsonSchema(MONEY_OUT)]
Status = Literal[STATUSES]  # type: ignore[valid-type]
# A log row may be an experiment's block switch as well as a filed proposal's (db.models).
Proposer = Literal[LOGGED_PROPOSERS]  # type: ignore[valid-type]
Tier = Literal["minor", "major"]


class Document(BaseModel):
    model_config = ConfigDict(extra="allow")


class ProblemDetails(Document):
    """RFC 9457 problem details; `errors` holds the CLI's one-line messages."""

    type: str
    title: str
    status: int
    detail: str  # the messages of `errors`, joined with "; "
    errors: list[str]


class Health(Document):
    status: Literal["ok"]
    database: Literal["ok"]
    revision: str


class SplitOut(Document):
    reinvestment: Pct
    dao: Pct
    lucky: Pct
    creator: Pct


class CurrentAllocationOut(SplitOut):
    id: str | None
    effective_from: MaybeInstant
    source: Literal["database", "default"]
    reasoning: str | None
    proposed_by: Proposer | None
    reviewed_by: str | None


class AmountsOut(Document):
    reinvestment: Amount
    dao: Amount
    lucky: Amount
    creator: Amount


class AmountsDocument(AmountsOut):
    total: Amount
    allocation_id: str | None


class DistributionOut(Document):
    distribution_id: str
    key: str
    allocation_id: str | None
    amounts: AmountsOut
    total: Amount
    created_at: Instant
    created: bool


class AllocationRecordOut(SplitOut):
    """A row of the allocation log (`history --json`); the pending list adds its approvals."""

    id: str
    timestamp: Instant
    reinvestment_pct: Pct
    dao_pct: Pct
    lucky_pct: Pct
    creator_pct: Pct
    status: Status
    reasoning: str
    confidence: float
    input_metrics: dict[str, Any] | None
    proposed_by: Proposer
    proposer_username: str | None
    based_on_id: str | None
    effective_from: MaybeInstant
    effective_until: MaybeInstant
    reviewed_by: str | None
    reviewed_at: MaybeInstant
    review_notes: str | None


class ProposalListed(AllocationRecordOut):
    """`pending --json`: the waiting ones carry their approvals; other statuses are log rows."""

    approvals: list[str] | None = None
    approvals_required: int | None = None
    expires_at: MaybeInstant = None
    tier: Tier | None = None


class TimelineEventOut(Document):
    at: Instant
    event: Literal[TIMELINE_EVENTS]  # type: ignore[valid-type]
    by: str | None
    notes: str | None


class ProposalStoryOut(AllocationRecordOut):
    tier: Tier
    approvals: list[str]
    approvals_required: int
    compared_with: SplitOut
    expires_at: Instant
    replaced_by: str | None
    superseded_by: str | None
    timeline: list[TimelineEventOut]


class ProposalFiled(Document):
    proposal_id: str
    warnings: list[str]
    status: Status


class ReviewOutcomeOut(Document):
    proposal_id: str
    status: Status
    approvals: int
    approvals_required: int
    tier: Tier
    executes_at: MaybeInstant


class VetoOutcomeOut(Document):
    proposal_id: str
    status: str  # the split's or the governance proposal's status
    vetoes: int
    vetoes_required: int


class GovernanceProposalOut(Document):
    id: str
    kind: str
    change: dict[str, Any]
    summary: str
    requested_by: str
    subject: str | None
    status: Literal[GOVERNANCE_STATUSES]  # type: ignore[valid-type]
    created_at: Instant
    approvals: int
    approvers: list[str]
    approvals_required: int
    executes_at: MaybeInstant
    vetoes: int


class GovernanceReviewOut(Document):
    id: str
    status: Literal[GOVERNANCE_STATUSES]  # type: ignore[valid-type]
    approvals: int
    approvals_required: int
    executes_at: MaybeInstant


class MetricsOut(Document):
    growth_rate_pct: float
    engagement_score: float
    dao_balance_usd: float
    avg_token_price_usd: float
    tokens_launched_7d: int
    days_of_data: int


class EngagementInputsOut(Document):
    window_start: Annotated[str, WithJsonSchema(DAY)]
    window_end: Annotated[str, WithJsonSchema(DAY)]
    window_days: int
    days_with_data: int
    totals_7d: dict[str, int]
    daily_averages: dict[str, float]
    reference_levels: dict[str, float]
    weights: dict[str, float]
    component_scores: dict[str, float]
    engagement_score: float
    growth: dict[str, Any]


class MetricsDocument(MetricsOut):
    inputs: EngagementInputsOut


class RebalanceOut(Document):
    success: bool
    should_rebalance: bool
    current_allocation: SplitOut
    suggested_allocation: SplitOut
    reasoning: str
    confidence: float
    proposal_id: str | None
    engine: Literal["rules", "ai"]
    fallback_reason: str | None
    metrics: MetricsOut
    metrics_source: str
    requested_engine: Literal[ENGINE_CHOICES]  # type: ignore[valid-type]
    target_allocation: SplitOut | None
    rules_fired: list[str]
    outcome: Literal["no_change", "dry_run", "paused", "already_pending", "filed", "activated"]
    filed: bool
    dry_run: bool
    rebalancing_paused: bool
    auto_approved: bool
    auto_approval_note: str | None
    warnings: list[str]
    by: str


class ActivityOut(Document):
    id: str
    timestamp: Instant
    activity_type: str
    description: str
    metadata: dict[str, Any]


class ComparePeriod(SplitOut):
    allocation_id: str
    split: str  # "80/15/3/2"
    effective_from: Instant
    effective_until: MaybeInstant
    window_from: Instant
    window_until: Instant
    days: float
    tokens_launched: int
    avg_price: float | None
    total_volume: float
    tokens_per_day: float | None
    volume_per_day: float | None



ExperimentStatus = Literal[EXPERIMENT_STATUSES]  # type: ignore[valid-type]
Number = Annotated[float | None, WithJsonSchema(nullable({"type": "number"}))]


class ExperimentFiledOut(Document):
    experiment_id: str
    status: ExperimentStatus
    schedule_sha256: str
    starts_at: Instant
    ends_at: Instant
    minimum_detectable_effect_pct: Number
    detectable: str


class ExperimentReviewOut(Document):
    experiment_id: str
    status: ExperimentStatus
    approvals: int
    approvals_required: int
    starts_at: Instant
    ends_at: Instant
    timelock_hours: int
    start_moved_from: MaybeInstant  # the filed start, when the major timelock moved it


class ExperimentStoppedOut(Document):
    experiment_id: str
    status: ExperimentStatus


class ExperimentAdoptedOut(Document):
    """`experiment adopt --json`: the ordinary proposal filed with the arm's split."""

    proposal_id: str
    experiment_id: str
    arm: int


class ExperimentListed(Document):
    experiment_id: str
    status: ExperimentStatus
    arms: list[SplitOut]
    arm_labels: list[str]
    starts_at: Instant
    ends_at: Instant
    created_by: str


class BlockOut(Document):
    index: int
    arm: int
    starts_at: Instant
    ends_at: Instant
    switched_at: MaybeInstant


class ArmResultOut(Document):
    arm: int
    days_used: int
    mean_per_day: Number


class EffectOut(Document):
    arm: int
    change_pct: Number
    ci95: list[float] | None
    p_value: Number


class ExperimentResultsOut(Document):
    metric: str
    arms: list[ArmResultOut]
    effects: list[EffectOut]
    verdict: str


class ExperimentOut(ExperimentListed):
    """`experiment show --json`: `salt` and `schedule` only once it has ended."""

    schedule_sha256: str
    block_hours: int
    blocks_planned: int
    burn_in_hours: int
    metric: str
    guardrails: list[str]
    reasoning: str
    approvals: list[str]
    approvals_required: int
    minimum_detectable_effect_pct: Number
    blocks: list[BlockOut]
    results: ExperimentResultsOut
    ended_at: MaybeInstant
    stopped_by: str | None
    stop_reason: str | None
    salt: str | None = None
    schedule: list[int] | None = None


class SimulationOut(Document):
    runs: int
    effect_pct: float
    mean_change_pct: Number
    coverage_pct: Number
    power_pct: float
    minimum_detectable_effect_pct: Number


# --- community votes (core/voting): no token, the EIP-712 signature is the credential ----------

ADDRESS = {"type": "string", "pattern": f"^0x[0-9a-fA-F]{{{ADDRESS_HEX_DIGITS}}}$",
           "examples": ["0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1"]}
SIGNATURE = {"type": "string", "pattern": f"^0x[0-9a-fA-F]{{{2 * SIGNATURE_BYTES}}}$",
             "description": f"{SIGNATURE_BYTES} bytes r || s || v, as eth_signTypedData_v4 "
                            "returns it"}
TIMESTAMP = {**whole(0, MAX_TIMESTAMP), "description": "unix seconds, as signed"}
WEIGHT = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$", "examples": ["400"]}


class VoteBody(Body):
    """A vote as signed: the typed data's message (`vote typed-data`) and its signature."""

    address: Annotated[str, core_rule(parse_address), WithJsonSchema(ADDRESS)]
    support: Annotated[str, core_rule(parse_support), WithJsonSchema(one_of(SUPPORTS))]
    signature: Annotated[str, core_rule(parse_signature), WithJsonSchema(SIGNATURE)]
    timestamp: Annotated[int, core_rule(parse_timestamp), WithJsonSchema(TIMESTAMP)]


Weight = Annotated[str, WithJsonSchema(WEIGHT)]
Support = Literal[SUPPORTS]  # type: ignore[valid-type]


class VoteCastOut(Document):
    """`vote cast --json`."""

    proposal_id: str
    address: str
    support: Support
    weight: Weight
    timestamp: int
    replaced: bool


class VoteTallyOut(Document):
    """`vote tally --json`: amounts in tokens, as exact decimal strings."""

    proposal_id: str
    snapshot_id: str
    chain_id: Annotated[int, Field(ge=1, le=MAX_CHAIN_ID,
                                   description="the snapshot's chain (EIP-155 id): votes are "
                                               "signed for it")]
    for_: Annotated[Weight, Field(alias="for")]
    against: Weight
    abstain: Weight
    quorum: Weight
    quorum_met: bool
    passed: bool
    voters: int
    quorum_pct: Pct
    mode: str
    opens_at: Instant
    closes_at: Instant
    status: Literal[OPEN, CLOSED]  # type: ignore[valid-type]
    outcome: str | None


class VoteOut(Document):
    address: str
    support: Support
    weight: Weight
    signature: str
    timestamp: int
    counts: bool = Field(description="whether the tally counts this vote: false for one a later "
                                     "vote of the same address replaced")
    replaced_at: int | None = Field(description="for a replaced vote, the timestamp (unix "
                                                "seconds) of the vote that replaced it; else null")


class VotesOut(Document):
    """Every vote with its signature, and the tally: what anyone needs to recount."""

    tally: VoteTallyOut
    votes: list[VoteOut]


HASH = {"type": "string", "pattern": f"^0x[0-9a-f]{{{2 * HASH_BYTES}}}$"}


class WeightProofOut(Document):
    """`voting proof --json`: a holder's weight and the Merkle proof of it against the
    snapshot's published root (OpenZeppelin's StandardMerkleTree, `leaf_encoding`'s types)."""

    address: Annotated[str, WithJsonSchema(ADDRESS)]
    weight_units: Annotated[str, WithJsonSchema(
        {"type": "string", "pattern": "^[0-9]+$", "description": "the weight in base units, "
                                                                  "as hashed"})]
    leaf: Annotated[str, WithJsonSchema(HASH)]
    proof: Annotated[list[str], WithJsonSchema({"type": "array", "items": HASH})]
    root: Annotated[str, WithJsonSchema(HASH)]
    leaf_encoding: list[str]
