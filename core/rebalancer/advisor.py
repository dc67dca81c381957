"""The AI advisor: asks an OpenAI chat model for a split, then holds the answer to the policy.

The model's answer is advice, never authority: it is clamped to the bounds and the step limit
(`clamp_to_policy`) and validated like any proposal before anything is filed. Whenever the advisor
cannot give a usable answer it raises `AdvisorUnavailable` with a short human reason, and the
service falls back to the rule engine. The API key is only handed to the client: no reason, log
line or reasoning text carries it. Nothing the server says in a failed call is kept: each failure
becomes one fixed description (a hostile server can echo the key altered in any way; OpenAI's own
401 message echoes part of it). On success the model's reasoning is kept, as model output: cut to
TEXT_LIMITS["ai_reasoning"] characters, cleaned of what text may not hold, and withheld whole if
it quotes anything like the key (case, spacing, punctuation, a character short, base64).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from decimal import Decimal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from core.allocation.policy import Policy
from core.allocation.split import BUCKETS, Split, format_pct
from core.base.formatting import measured
from core.allocation.validation import ProposalInput, validate_proposal
from core.base.parsing import TEXT_LIMITS
from core.rebalancer.rules import (DAO_HEALTHY_TEXT, DAO_LOW_TEXT, ENGAGEMENT_HIGH_TEXT,
                                   ENGAGEMENT_LOW_TEXT, GROWTH_HIGH_TEXT, GROWTH_LOW_TEXT,
                                   PRICE_HIGH_TEXT, PRICE_LOW_TEXT)
from core.platform_data.metrics_model import PlatformMetrics
from core.rebalancer.suggestion import Suggestion, clamp_to_policy, policy_gate
from settings import Settings, get_settings

log = logging.getLogger(__name__)

AI_REASONING_LIMIT = TEXT_LIMITS["ai_reasoning"]
KEY_WINDOW = 12  # characters of the key (letters and digits) that, found anywhere, count as it
WITHHELD = "(the AI's reasoning was withheld: it quoted something like the API key)"
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")


class AdvisorUnavailable(Exception):
    """The AI advisor gave no usable answer; `reason` says why, for people (never the key)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class AdvisorAnswer(BaseModel):
    """The structured answer the model must give (sent as a strict JSON schema)."""

    model_config = ConfigDict(extra="forbid")

    reinvestment: float = Field(allow_inf_nan=False, description="percent")
    dao: float = Field(allow_inf_nan=False, description="percent")
    lucky: float = Field(allow_inf_nan=False, description="percent")
    creator: float = Field(allow_inf_nan=False, description="percent")
    reasoning: str = Field(description="one or two sentences naming the metrics that drove it")
    confidence: float = Field(allow_inf_nan=False, description="0 to 1")
    should_rebalance: bool


# The rules in words, with the rule engine's own thresholds (`core.rebalancer.rules`).
SYSTEM_PROMPT = f"""\
You are the profit-rebalancer of a token launch platform. Profits are split into four buckets:
reinvestment (platform development), dao (DAO treasury), lucky (lucky lottery for users) and
creator (creator rewards). Suggest the split for the next period from the platform metrics.

Decide with these rules:
1. Community growth (last 7 days against the previous 7). Growing above {GROWTH_HIGH_TEXT}:
   increase lucky (reward engagement) and creator (incentivize builders). Declining below
   {GROWTH_LOW_TEXT}: increase reinvestment (improve the platform) and reduce incentives
   temporarily.
2. Engagement score (0-100). High, above {ENGAGEMENT_HIGH_TEXT}: maintain or reduce incentives
   (already engaged). Low, below {ENGAGEMENT_LOW_TEXT}: increase lucky (attract users) and creator
   (improve content).
3. DAO treasury balance. Low, below {DAO_LOW_TEXT}: increase dao (build governance capacity).
   Healthy, above {DAO_HEALTHY_TEXT}: reduce dao (allocate elsewhere).
4. Average token price. Below {PRICE_LOW_TEXT}: increase reinvestment (improve the product).
   Above {PRICE_HIGH_TEXT}: balance toward community rewards (lucky and creator).

Answer with whole percentages that sum to exactly 100, each inside the policy bounds, moving no
bucket more than the policy's max_step points from the current split. Set should_rebalance to
false when the current split is already right (no bucket would move by min_delta points or more).
confidence is 0 to 1: lower it when there are few days of data or the signals conflict.
reasoning names the figures that drove the decision."""


def build_messages(metrics: PlatformMetrics, live: Split, policy: Policy) -> list[dict[str, str]]:
    facts = {
        "metrics": metrics.as_json(),
        "current_split": live.as_json(),
        "policy": {
            "bounds": {b: {"min": float(policy.bounds[b][0]), "max": float(policy.bounds[b][1])}
                       for b in BUCKETS},
            "max_step": float(policy.max_step),
            "min_delta": float(policy.min_delta),
            "baseline_split": policy.baseline.as_json(),
        },
    }
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": json.dumps(facts, indent=2)}]


def _letters_and_digits(text: str) -> str:
    return "".join(c for c in text.lower() if c.isascii() and c.isalnum())


def _decoded_runs(text: str) -> list[str]:
    """Base64-looking runs of `text`, decoded (a key sent back base64-encoded)."""
    decoded = []
    for run in _BASE64_RUN.findall(text):
        body = run.rstrip("=").replace("-", "+").replace("_", "/")
        try:
            raw = base64.b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            continue
        decoded.append(raw.decode("latin-1"))
    return decoded


def quotes_secret(text: str, secret: str) -> bool:
    """Whether `text` holds the key or something close to it: any KEY_WINDOW letters and digits
    of it in a row, whatever the case, spacing or punctuation, in plain text or base64."""
    key = _letters_and_digits(secret)
    if not key:
        return False
    width = min(KEY_WINDOW, len(key))
    windows = {key[i:i + width] for i in range(len(key) - width + 1)}
    return any(w in _letters_and_digits(candidate) for candidate in [text, *_decoded_runs(text)]
               for w in windows)


def _model_text(text: str, secret: str) -> str:
    """The model's reasoning as the product keeps it: storable, bounded, never the key."""
    cleaned = "".join(c if c.isprintable() or c in "\n\t" else " " for c in text).strip()
    if quotes_secret(cleaned, secret):
        return WITHHELD
    if len(cleaned) > AI_REASONING_LIMIT:
        cleaned = cleaned[:AI_REASONING_LIMIT - 1] + "…"
    return cleaned


def _ask(metrics: PlatformMetrics, live: Split, policy: Policy, settings: Settings) -> AdvisorAnswer:
    """One call to the model; every way it can fail becomes AdvisorUnavailable."""
    import openai  # here, not at the top: it takes a quarter second, and every CLI call would pay

    if not settings.has_openai_key:
        raise AdvisorUnavailable("no OpenAI API key is configured")
    assert settings.openai_api_key is not None
    secret = settings.openai_api_key.get_secret_value()
    timeout = settings.openai_timeout_seconds
    # Each branch below raises `from None`: the original exception may quote the server's reply.
    try:
        with openai.OpenAI(api_key=secret, base_url=settings.openai_base_url, timeout=timeout,
                           max_retries=settings.openai_max_retries) as client:
            completion = client.chat.completions.parse(
                model=settings.openai_model, messages=build_messages(metrics, live, policy),
                response_format=AdvisorAnswer)
    except openai.APITimeoutError:
        raise AdvisorUnavailable(f"AI advisor timed out after {measured(timeout)} s") from None
    except openai.APIConnectionError:
        raise AdvisorUnavailable("AI advisor could not be reached (connection failed)") from None
    except openai.AuthenticationError:
        raise AdvisorUnavailable("AI advisor refused the API key (HTTP 401)") from None
    except openai.APIStatusError as error:
        raise AdvisorUnavailable(f"AI advisor answered with HTTP {error.status_code}") from None
    except openai.LengthFinishReasonError:
        raise AdvisorUnavailable("AI advisor's answer was cut off at the length limit") from None
    except openai.ContentFilterFinishReasonError:
        raise AdvisorUnavailable("AI advisor's answer was blocked by the content filter") from None
    except (pydantic.ValidationError, ValueError, openai.APIResponseValidationError):
        # ValueError covers json.JSONDecodeError: content that is not JSON at all.
        raise AdvisorUnavailable("AI advisor's answer did not match the expected format") from None
    except Exception as error:  # noqa: BLE001 - any other failure must still fall back to rules
        log.warning("AI advisor failed: %s", type(error).__name__)
        raise AdvisorUnavailable(f"AI advisor failed ({type(error).__name__})") from None
    if not completion.choices:
        raise AdvisorUnavailable("AI advisor's answer did not match the expected format")
    message = completion.choices[0].message
    if message.refusal:
        # The refusal's words are the server's: a hostile one can put anything there.
        raise AdvisorUnavailable("AI advisor declined to answer")
    if message.parsed is None:
        raise AdvisorUnavailable("AI advisor's answer did not match the expected format")
    answer = message.parsed
    return answer.model_copy(update={"reasoning": _model_text(answer.reasoning, secret)})


def suggest_by_ai(metrics: PlatformMetrics, live: Split, policy: Policy,
                  settings: Settings | None = None) -> Suggestion:
    """The model's split, held to the policy. Raises AdvisorUnavailable when there is none."""
    settings = settings or get_settings()
    answer = _ask(metrics, live, policy, settings)
    target = Split(**{b: Decimal(repr(getattr(answer, b))) for b in BUCKETS})
    split, notes = clamp_to_policy(target, live, policy)
    confidence = Decimal(repr(answer.confidence))
    if not Decimal(0) <= confidence <= Decimal(1):
        notes.append(f"confidence: {format_pct(confidence)} is outside 0..1")
        confidence = min(max(confidence, Decimal(0)), Decimal(1))
    confidence = confidence.quantize(Decimal("0.0001"))
    lines = [f"AI advisor: {answer.reasoning.strip() or '(no reasoning given)'}"]
    lines.extend(f"Clamped to the policy: {note}." for note in notes)
    blocked = policy_gate(split, live, policy, confidence)
    if not answer.should_rebalance:
        lines.append("The advisor sees no need to rebalance.")
    elif blocked:
        lines.append(f"No rebalance: {blocked}.")
    reasoning = " ".join(lines)
    check = validate_proposal(ProposalInput(*(getattr(split, b) for b in BUCKETS), reasoning,
                                            confidence, "ai"), policy=policy, live=live)
    if not check.valid:  # clamp_to_policy makes this unreachable; kept as the last guard
        raise AdvisorUnavailable("AI advisor's answer could not be made valid: "
                                 + "; ".join(check.errors))
    return Suggestion(split=split, reasoning=reasoning, confidence=confidence,
                      should_rebalance=answer.should_rebalance and blocked is None, engine="ai",
                      target=target, notes=notes)
