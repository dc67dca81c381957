"""The AI advisor with the real `openai` client against a local fake of the API (no internet)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from core.allocation.policy import Policy
from core.allocation.split import Split
from core.platform_data.metrics_model import PlatformMetrics
from core.rebalancer.advisor import AdvisorUnavailable, suggest_by_ai
from core.rebalancer.service import suggest
from settings import Settings
from tests.fake_openai import FakeOpenAI

D = Decimal
KEY = "sk-test-NEVER-PRINT-ME-4c1d8e"
POLICY = Policy()
LIVE = Split(D(80), D(15), D(3), D(2))
LAUNCH_WEEK = PlatformMetrics(60.0, 85.0, D(2500), 0.03, 15, 30)
GOOD = {"reinvestment": 65, "dao": 15, "lucky": 12, "creator": 8,
        "reasoning": "Explosive growth detected. Increasing lucky and creator rewards.",
        "confidence": 0.92, "should_rebalance": True}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def settings_for(fake: FakeOpenAI, key: str | None = KEY) -> Settings:
    # A short timeout and no retries, so a hanging server cannot hold the suite up.
    return Settings(_env_file=None, openai_api_key=key, openai_base_url=fake.base_url,
                    openai_model="gpt-test", openai_timeout_seconds=0.5, openai_max_retries=0)


def test_a_good_answer_becomes_an_ai_suggestion_with_the_models_split(fake):
    fake.answer(GOOD)
    s = suggest_by_ai(LAUNCH_WEEK, LIVE, POLICY, settings_for(fake))
    assert s.engine == "ai" and s.fallback_reason is None and s.should_rebalance
    assert s.split == Split(D(65), D(15), D(12), D(8)) and s.notes == []
    assert s.confidence == D("0.92")
    assert s.reasoning == "AI advisor: " + GOOD["reasoning"]


def test_the_request_carries_the_metrics_the_split_the_policy_and_the_seeds_rules(fake):
    fake.answer(GOOD)
    suggest_by_ai(LAUNCH_WEEK, LIVE, POLICY, settings_for(fake))
    request = fake.requests[-1]
    body = request["body"]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == f"Bearer {KEY}"
    assert body["model"] == "gpt-test"
    assert body["response_format"]["type"] == "json_schema"
    schema = body["response_format"]["json_schema"]["schema"]
    assert set(schema["required"]) == {"reinvestment", "dao", "lucky", "creator", "reasoning",
                                       "confidence", "should_rebalance"}
    system, user = (m["content"] for m in body["messages"])
    for rule in ("+20%", "-15%", "above 70", "below 30", "$500", "$2,000", "$0.01", "$0.05"):
        assert rule in system
    for fact in ('"growth_rate_pct": 60.0', '"engagement_score": 85.0', '"current_split"',
                 '"reinvestment": 80', '"max_step": 15', '"min_delta": 2', '"max": 90'):
        assert fact in user


def test_an_out_of_bounds_answer_is_clamped_and_the_reasoning_says_so(fake):
    fake.answer({**GOOD, "reinvestment": 35, "dao": 40, "lucky": 20, "creator": 5})
    s = suggest_by_ai(LAUNCH_WEEK, LIVE, POLICY, settings_for(fake))
    assert s.engine == "ai"
    for bucket, value in s.split.items():
        low, high = POLICY.bounds[bucket]
        assert low <= value <= high and abs(value - getattr(LIVE, bucket)) <= POLICY.max_step
    assert s.split.total == 100
    assert "Clamped to the policy: dao: 40 is above the maximum 30" in s.reasoning
    assert "reinvestment: 35 is below the minimum 40" in s.reasoning
    assert "step limit" in s.reasoning


def test_an_answer_that_does_not_want_a_rebalance_is_not_filed(fake):
    fake.answer({**GOOD, "should_rebalance": False})
    s = suggest_by_ai(LAUNCH_WEEK, LIVE, POLICY, settings_for(fake))
    assert not s.should_rebalance and "sees no need to rebalance" in s.reasoning


def test_a_low_confidence_answer_is_not_filed(fake):
    fake.answer({**GOOD, "confidence": 0.3})
    s = suggest_by_ai(LAUNCH_WEEK, LIVE, POLICY, settings_for(fake))
    assert not s.should_rebalance and "No rebalance: confidence 0.3 is under 0.5" in s.reasoning


FAILURES = [
    pytest.param(lambda f: f.answer_content("{this is not json"),
                 "AI advisor's answer did not match the expected format", id="malformed-json"),
    pytest.param(lambda f: f.answer_content('{"reinvestment": "lots"}'),
                 "AI advisor's answer did not match the expected format", id="wrong-shape"),
    pytest.param(lambda f: f.answer_content('{"reinvestment": 6', finish_reason="length"),
                 "AI advisor's answer was cut off at the length limit", id="cut-off"),
    pytest.param(lambda f: f.fail(500), "AI advisor answered with HTTP 500", id="http-500"),
    pytest.param(lambda f: f.fail(401, f"Incorrect API key provided: {KEY}"),
                 "AI advisor refused the API key (HTTP 401)", id="http-401-echoing-the-key"),
    pytest.param(lambda f: f.hang(10), "AI advisor timed out after 0.5 s", id="hang"),
    pytest.param(lambda f: f.refuse("I can't help with that."),
                 "AI advisor declined to answer", id="refusal"),
]


@pytest.mark.parametrize(("script", "reason"), FAILURES)
def test_each_advisor_failure_falls_back_to_the_rules_with_a_short_reason(fake, script, reason):
    script(fake)
    started = time.monotonic()
    with pytest.raises(AdvisorUnavailable) as raised:
        suggest_by_ai(LAUNCH_WEEK, LIVE, POLICY, settings_for(fake))
    assert raised.value.reason == reason
    s = suggest(LAUNCH_WEEK, LIVE, POLICY, "auto", settings_for(fake))
    assert s.engine == "rules" and s.fallback_reason == f"{reason}; rule engine used"
    assert s.split == Split(D(74), D(15), D(6), D(5))  # what the rule engine says on its own
    assert s.reasoning.startswith(f"(Rule engine: {reason}; rule engine used.)")
    assert time.monotonic() - started < 5  # two calls, each at most the 0.5 s timeout


def test_an_unreachable_server_falls_back_to_the_rules(fake):
    settings = settings_for(fake)
    fake.stop()
    s = suggest(LAUNCH_WEEK, LIVE, POLICY, "ai", settings)
    assert s.engine == "rules"
    assert s.fallback_reason == "AI advisor could not be reached (connection failed); rule engine used"


def test_without_a_key_auto_uses_the_rules_quietly_and_forced_ai_says_why(fake):
    no_key = settings_for(fake, key=None)
    quiet = suggest(LAUNCH_WEEK, LIVE, POLICY, "auto", no_key)
    assert quiet.engine == "rules" and quiet.fallback_reason is None
    forced = suggest(LAUNCH_WEEK, LIVE, POLICY, "ai", no_key)
    assert forced.engine == "rules"
    assert forced.fallback_reason == "no OpenAI API key is configured; rule engine used"
    assert fake.requests == []  # nothing was sent anywhere


def test_auto_asks_the_advisor_when_a_key_is_set_and_rules_never_does(fake):
    fake.answer(GOOD)
    assert suggest(LAUNCH_WEEK, LIVE, POLICY, "auto", settings_for(fake)).engine == "ai"
    assert suggest(LAUNCH_WEEK, LIVE, POLICY, "rules", settings_for(fake)).engine == "rules"
    assert len(fake.requests) == 1


def test_the_api_key_appears_in_no_reason_reasoning_exception_or_log_line(fake, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    for param in FAILURES:
        script, _reason = param.values
        script(fake)
        try:
            suggest_by_ai(LAUNCH_WEEK, LIVE, POLICY, settings_for(fake))
        except AdvisorUnavailable as error:
            seen += [str(error), repr(error), error.reason]
        s = suggest(LAUNCH_WEEK, LIVE, POLICY, "auto", settings_for(fake))
        seen += [s.reasoning, s.fallback_reason or "", repr(s)]
    fake.answer({**GOOD, "reasoning": f"echoing {KEY} back"})
    s = suggest_by_ai(LAUNCH_WEEK, LIVE, POLICY, settings_for(fake))
    seen += [s.reasoning, repr(s)]
    out = capsys.readouterr()
    everything = "\n".join(seen + [caplog.text, out.out, out.err])
    assert caplog.records, "the client's debug logging should have been captured"
    assert KEY not in everything
    assert "(the AI's reasoning was withheld: it quoted something like the API key)" in s.reasoning
