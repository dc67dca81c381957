"""A hostile OpenAI-compatible server that sends the API key back, altered, gets none of it into
the database: a failed call is kept only as a fixed description, and the reasoning of an answer
that quotes anything like the key is withheld. Run through the rebalancer on both engines."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from core.platform_data.metrics_model import PlatformMetrics
from core.rebalancer.advisor import quotes_secret
from core.rebalancer.service import run_rebalance
from settings import Settings
from tests.fake_openai import FakeOpenAI
from tests.integration.state import every_row

KEY = "sk-proj-Q7x2LmN9pR4sT6vW8yZ1aB3c"
ALTERED = {
    "one character short": KEY[:-1],
    "upper case": KEY.upper(),
    "base64": base64.b64encode(KEY.encode()).decode(),
    "spaced": " ".join(KEY),
    "url-safe base64 of the key's middle": base64.urlsafe_b64encode(KEY[3:].encode()).decode(),
}
LAUNCH_WEEK = PlatformMetrics(60.0, 85.0, Decimal(2500), 0.03, 15, 30)
ANSWER = {"reinvestment": 70, "dao": 15, "lucky": 9, "creator": 6, "confidence": 0.9,
          "should_rebalance": True}


def hostile_replies(altered: str) -> list[Callable[[FakeOpenAI], None]]:
    return [
        lambda f: f.fail(401, f"Incorrect API key provided: {altered}"),
        lambda f: f.fail(500, f"upstream rejected key {altered}"),
        lambda f: f.fail(429, altered),
        lambda f: f.refuse(f"I will not answer {altered}"),
        lambda f: f.answer_content(f"not json at all: {altered}"),
        lambda f: f.answer_content(f'{{"reasoning": "{altered}"}}'),
        lambda f: f.answer({**ANSWER, "reasoning": f"Growth is strong. Your key is {altered}."}),
    ]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def settings_for(fake: FakeOpenAI) -> Settings:
    return Settings(_env_file=None, openai_api_key=KEY, openai_base_url=fake.base_url,
                    openai_model="gpt-test", openai_timeout_seconds=2, openai_max_retries=0)


def normalised(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


@pytest.mark.parametrize("variant", list(ALTERED))
def test_no_altered_key_from_a_hostile_server_reaches_the_database(db, fake, variant):
    altered = ALTERED[variant]
    for script in hostile_replies(altered):
        script(fake)
        result = run_rebalance(db, LAUNCH_WEEK, engine="ai", dry_run=True,
                               settings=settings_for(fake))
        assert altered not in repr(result.as_json())
    # Filed for real too: the allocation log keeps the reasoning of a proposal.
    fake.answer({**ANSWER, "reasoning": f"Growth is strong. Your key is {altered}."})
    filed = run_rebalance(db, LAUNCH_WEEK, engine="ai", settings=settings_for(fake))
    assert filed.proposal_id is not None and filed.suggestion.engine == "ai"
    stored = repr(every_row(db))
    assert len(fake.requests) == len(hostile_replies(altered)) + 1
    for text in (KEY, altered, *ALTERED.values()):
        assert text not in stored
    assert normalised(KEY)[:-1] not in normalised(stored)
    assert normalised(KEY)[1:] not in normalised(stored)


def test_each_failure_is_stored_as_a_fixed_description_only(db, fake):
    expected = ["AI advisor refused the API key (HTTP 401)", "AI advisor answered with HTTP 500",
                "AI advisor answered with HTTP 429", "AI advisor declined to answer",
                "AI advisor's answer did not match the expected format",
                "AI advisor's answer did not match the expected format"]
    reasons = []
    for script in hostile_replies(ALTERED["spaced"])[:-1]:
        script(fake)
        result = run_rebalance(db, LAUNCH_WEEK, engine="ai", dry_run=True,
                               settings=settings_for(fake))
        reasons.append(result.suggestion.fallback_reason)
    assert reasons == [f"{r}; rule engine used" for r in expected]


def test_the_models_own_reasoning_is_kept_on_success_and_cut_to_its_limit(db, fake):
    fake.answer({**ANSWER, "reasoning": "Growth of +60% drove lucky up. " * 200})
    result = run_rebalance(db, LAUNCH_WEEK, engine="ai", dry_run=True, settings=settings_for(fake))
    reasoning = result.suggestion.reasoning
    assert reasoning.startswith("AI advisor: Growth of +60% drove lucky up.")
    model_part = reasoning.removeprefix("AI advisor: ").split("…")[0] + "…"
    assert len(model_part) == 2000


@pytest.mark.parametrize("text, quoted", [
    (KEY, True), (KEY[:-1], True), (KEY[1:], True), (KEY.upper(), True), (" ".join(KEY), True),
    ("-".join(KEY), True), (base64.b64encode(KEY.encode()).decode(), True),
    ("Growth of +60% and engagement 85/100 drove the change.", False),
    ("sk-proj is a prefix, nothing more", False),
])
def test_something_like_the_key_is_recognised_and_ordinary_reasoning_is_not(text, quoted):
    assert quotes_secret(text, KEY) is quoted
