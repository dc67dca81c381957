"""A switchback experiment's design rules, its balanced schedule and the hash that commits it."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.allocation.split import Split
from core.base.errors import ValidationFailed
from core.experiments.design import (MAX_ARMS, MAX_BLOCK_HOURS, MAX_BLOCKS, METRICS, MIN_ARMS,
                                     MIN_BLOCKS_PER_ARM, ExperimentDesign, Guardrail,
                                     check_starts_at, draw_schedule, is_balanced,
                                     next_whole_hour, parse_arms, parse_design, parse_guardrail,
                                     schedule_sha256, verify_schedule)
from core.platform_data.outcomes import FIGURES

CONTROL = Split.of(80, 15, 3, 2)
B = Split.of(70, 18, 8, 4)
C = Split.of(60, 25, 10, 5)
D = Split.of(50, 30, 12, 8)
E = Split.of(40, 40, 12, 8)


def design(**changes) -> ExperimentDesign:
    fields = {"arms": (CONTROL, B), "block_hours": 48, "blocks": 28, "burn_in_hours": 24}
    return ExperimentDesign(**{**fields, **changes})


def problems_of(**changes) -> list[str]:
    with pytest.raises(ValidationFailed) as refused:
        design(**changes)
    return refused.value.problems


def test_a_sound_design_keeps_its_arms_in_order_the_first_being_the_control():
    made = design(arms=[CONTROL, B, C], blocks=24, guardrails=[Guardrail("volume_per_day",
                                                                         Decimal(10))])
    assert made.arms == (CONTROL, B, C) and made.rounds == 8
    assert made.as_json() == {"arms": [CONTROL.as_json(), B.as_json(), C.as_json()],
                              "block_hours": 48, "blocks": 24, "burn_in_hours": 24,
                              "metric": "tokens_per_day", "guardrails": ["volume_per_day:-10"]}


@pytest.mark.parametrize(("changes", "message"), [
    ({"arms": (CONTROL,)}, f"arms: 1 given; an experiment has {MIN_ARMS} to {MAX_ARMS} "
                           "(the first is the control)"),
    ({"arms": (CONTROL, B, C, D, E), "blocks": 30},
     f"arms: 5 given; an experiment has {MIN_ARMS} to {MAX_ARMS} (the first is the control)"),
    ({"arms": (CONTROL, CONTROL)}, "arms: arm 2 (80/15/3/2) repeats arm 1; two equal arms test "
                                   "nothing"),
    ({"arms": (CONTROL, Split.of(70, 18, 8, 3))},
     "arms: arm 2: the four sum to 99, not exactly 100"),
    ({"block_hours": 0}, f"block_hours: 0 is not a whole number of hours in 1..{MAX_BLOCK_HOURS}"),
    ({"block_hours": 1.5}, f"block_hours: 1.5 is not a whole number of hours in "
                           f"1..{MAX_BLOCK_HOURS}"),
    ({"blocks": 27}, "blocks: 27 is not a multiple of the 2 arms (each round holds every arm once)"),
    ({"blocks": 2}, f"blocks: 2 is fewer than {2 * MIN_BLOCKS_PER_ARM} ({MIN_BLOCKS_PER_ARM} per "
                    "arm)"),
    ({"blocks": MAX_BLOCKS + 2}, f"blocks: {MAX_BLOCKS + 2} is not a whole number in "
                                 f"1..{MAX_BLOCKS}"),
    ({"burn_in_hours": 48}, "burn_in_hours: 48 leaves nothing of a block of 48 h to measure (it "
                            "must be shorter than the block)"),
    ({"burn_in_hours": -1}, "burn_in_hours: -1 is not a whole number of hours, at least 0"),
    ({"metric": "dao_treasury"}, f"metric: 'dao_treasury' is not one of {', '.join(METRICS)}"),
    ({"guardrails": (Guardrail("volume_per_day", Decimal(0)),)},
     "guardrail: volume_per_day's drop 0 is outside (0, 100] percent"),
    ({"guardrails": (Guardrail("avg_price", Decimal(5)), Guardrail("avg_price", Decimal(9)))},
     "guardrail: avg_price is given twice"),
])
def test_an_invalid_design_is_refused_with_a_message_naming_the_field_and_the_rule(changes, message):
    assert problems_of(**changes) == [message]


def test_an_arm_outside_0_to_100_is_named_by_its_number_and_bucket():
    assert problems_of(arms=(CONTROL, Split.of(120, -20, 0, 0))) == [
        "arms: arm 2: reinvestment 120 is outside 0..100", "arms: arm 2: dao -20 is outside 0..100"]


def test_every_broken_rule_of_a_design_is_named_at_once():
    assert [p.split(":")[0] for p in problems_of(blocks=3, burn_in_hours=60, metric="x")] == \
        ["blocks", "blocks", "burn_in_hours", "metric"]


def test_the_metrics_an_experiment_measures_are_figures_the_platform_computes_per_day():
    assert set(METRICS) <= set(FIGURES)


def test_a_design_is_read_from_what_a_person_types():
    made = parse_design(arms="80/15/3/2, 70/18/8/4", block_hours="48", blocks="28",
                        burn_in_hours="24", metric="volume_per_day",
                        guardrails=["tokens_per_day:-12.5"])
    assert made.arms == (CONTROL, B) and made.blocks == 28
    assert made.guardrails == (Guardrail("tokens_per_day", Decimal("12.5")),)


@pytest.mark.parametrize(("text", "message"), [
    ("80/15/3/2,70/18/8", "arms: arm 2 '70/18/8' is not four percentages like 80/15/3/2"),
    ("80/15/3/2,70/18/x/4", "arms: arm 2: lucky: 'x' is not a number"),
    ("", 'arms: must be splits like "80/15/3/2,70/18/8/4"'),
])
def test_arms_that_are_not_splits_are_refused_by_their_number(text, message):
    with pytest.raises(ValidationFailed) as refused:
        parse_arms(text)
    assert refused.value.problems == [message]


@pytest.mark.parametrize(("text", "message"), [
    ("volume_per_day:10", "guardrail: 'volume_per_day:10' is not METRIC:-PCT (e.g. volume_per_day:-10)"),
    ("volume_per_day", "guardrail: 'volume_per_day' is not METRIC:-PCT (e.g. volume_per_day:-10)"),
    ("volume:-10", f"guardrail: 'volume' is not one of {', '.join(METRICS)}"),
    ("avg_price:-150", "guardrail: avg_price's drop 150 is outside (0, 100] percent"),
    ("avg_price:-1.234", "guardrail: 1.234 has more than 2 decimal places"),
])
def test_a_guardrail_is_a_metric_and_the_drop_it_must_not_exceed(text, message):
    with pytest.raises(ValidationFailed) as refused:
        parse_guardrail(text)
    assert refused.value.problems == [message]


def test_text_that_is_not_a_whole_number_of_blocks_is_refused_by_its_field():
    with pytest.raises(ValidationFailed) as refused:
        parse_design(arms="80/15/3/2,70/18/8/4", block_hours="48", blocks="2.5")
    assert refused.value.problems == ["blocks: '2.5' is not a whole number"]


# --- the schedule ----------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(arms=st.integers(MIN_ARMS, MAX_ARMS), rounds=st.integers(MIN_BLOCKS_PER_ARM, 20),
       seed=st.integers(0, 2**32))
def test_a_drawn_schedule_gives_every_arm_one_block_in_each_round(arms, rounds, seed):
    made = design(arms=(CONTROL, B, C, D)[:arms], blocks=arms * rounds)
    drawn = draw_schedule(made, random.Random(seed)).schedule
    assert len(drawn) == made.blocks and is_balanced(drawn, arms)
    assert all(drawn.count(arm) == rounds for arm in range(arms))


def test_the_order_within_rounds_is_random_and_the_salt_secret_and_new_each_time():
    made = design()
    first, second = draw_schedule(made), draw_schedule(made)
    assert len(first.salt) == 32 and int(first.salt, 16) >= 0
    assert first.salt != second.salt
    orders = {draw_schedule(made, random.Random(seed)).schedule[:2] for seed in range(50)}
    assert orders == {(0, 1), (1, 0)}


def test_a_schedule_that_drifts_into_one_arm_is_not_balanced():
    assert is_balanced((0, 1, 1, 0, 0, 1), 2)
    assert not is_balanced((0, 1, 1, 1, 0, 0), 2)
    assert not is_balanced((0, 1, 0), 2)


def test_the_hash_is_sha256_of_the_salt_a_colon_and_the_arm_of_each_block():
    salt = "00112233445566778899aabbccddeeff"
    # Computed once by hand from the CLI contract's formula; a change of format breaks it.
    assert schedule_sha256(salt, (0, 1, 1, 0, 1, 0)) == \
        "ed545f0c902ad6d4c2c6666306a76f4a9b55e1fc4d2ff57eea093de38b5d93a3"
    assert schedule_sha256(salt, [0, 1]) == \
        hashlib.sha256(f"{salt}:0,1".encode()).hexdigest()


def test_the_revealed_salt_and_schedule_match_the_published_hash_and_a_changed_one_does_not():
    committed = draw_schedule(design(), random.Random(7))
    published = committed.sha256
    assert verify_schedule(published, committed.salt, committed.schedule)
    assert verify_schedule(published.upper(), committed.salt, committed.schedule)
    swapped = list(committed.schedule)
    first_other = swapped.index(1 - swapped[0])
    swapped[0], swapped[first_other] = swapped[first_other], swapped[0]
    assert not verify_schedule(published, committed.salt, swapped)
    assert not verify_schedule(published, "0" * 32, committed.schedule)


# --- when it runs ----------------------------------------------------------------------------------

def test_blocks_run_back_to_back_from_the_start():
    start = datetime(2026, 3, 1, tzinfo=UTC)
    made = design(blocks=4)
    bounds = made.block_bounds(start)
    assert bounds[0] == (start, start + timedelta(hours=48))
    assert bounds[3][1] == made.ends_at(start) == start + timedelta(days=8)


def test_the_default_start_is_the_next_whole_hour_and_a_start_must_lie_in_the_future():
    now = datetime(2026, 3, 1, 9, 41, 5, tzinfo=UTC)
    assert next_whole_hour(now) == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert check_starts_at(next_whole_hour(now), now) == datetime(2026, 3, 1, 10, tzinfo=UTC)
    with pytest.raises(ValidationFailed, match="starts_at: 2026-03-01T09:00:00\\+00:00 is not in "
                                               "the future"):
        check_starts_at(datetime(2026, 3, 1, 9, tzinfo=UTC), now)
