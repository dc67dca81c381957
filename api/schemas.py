"""Request bodies. Values are checked by core's own parsers, so a refusal reads exactly as on the
CLI (`dao: 31.555 has more than 2 decimal places`) and arrives as 422 before core is called."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictBool, ValidationInfo

from core.allocation.money import parse_total
from core.allocation.split import PERCENT_PLACES
from core.allocation.validation import PROPOSERS
from core.base.errors import DomainError
from core.base.parsing import to_decimal
from core.platform_data.metrics_model import PlatformMetrics
from core.proposals.lifecycle import DECISIONS
from core.rebalancer.service import ENGINE_CHOICES
from settings import get_settings


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


Percent = Annotated[Decimal, core_rule(lambda v, f: to_decimal(v, f, places=PERCENT_PLACES))]
Money = Annotated[Decimal, core_rule(lambda v, f: parse_total(v, get_settings().minor_unit, f))]
OptionalMoney = Annotated[Decimal | None, core_rule(
    lambda v, f: None if v is None else parse_total(v, get_settings().minor_unit, f))]


class Body(BaseModel):
    # An unknown field is refused, not ignored: a typo ("dao_pct") must not pass as a default.
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


class RebalanceBody(Body):
    engine: Annotated[str, core_rule(_one_of(ENGINE_CHOICES))] = "auto"
    dry_run: StrictBool = False
    metrics: Annotated[Any, core_rule(lambda v, f: None if v is None
                                      else PlatformMetrics.from_json(v))] = None


class DistributionBody(Body):
    profit: Money
    key: str
    confirm_total: OptionalMoney = None  # the same amount again, for an unusually large one


class ProposalBody(Body):
    reinvestment: Percent
    dao: Percent
    lucky: Percent
    creator: Percent
    reasoning: str
    confidence: Annotated[Decimal, core_rule(lambda v, f: to_decimal(v, f))] = Decimal(1)
    proposed_by: Annotated[str, core_rule(_one_of(PROPOSERS))] = "manual"


class ReviewBody(Body):
    decision: Annotated[str, core_rule(_one_of(DECISIONS))]
    notes: str | None = None
    totp: str | None = None  # the reviewer's current code, when the policy requires TOTP


class VetoBody(Body):
    reason: str
    totp: str | None = None  # the governor's current code, when the policy requires TOTP
