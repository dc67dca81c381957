"""The demo's token generator: its inlined draws give the rows that calling `random`'s methods
gives (the demo's numbers are relied on elsewhere), pure, no database."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.platform_data import demo


def reference_batch(rng: random.Random, n: int, start: datetime, cum_weights: list[float],
                    levels: list[float]) -> list[tuple]:
    """The generator as first written, through random's public methods."""
    days = rng.choices(range(len(levels)), cum_weights=cum_weights, k=n)
    batch = []
    for day in days:
        log_price = min(max(rng.gauss(-2.6, 1.1), -5.0), 1.0)
        letters = "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ", k=rng.randint(3, 5)))
        batch.append((letters, f"{rng.choice(demo.WORDS)} {rng.choice(demo.NOUNS)}",
                      round(10 ** log_price, 8), round(10 ** rng.gauss(3.3, 0.9) * levels[day], 2),
                      start + timedelta(seconds=day * 86400 + rng.randrange(86400))))
    return batch


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, demo.MAX_SEED), days=st.integers(demo.MIN_DAYS, 400),
       sizes=st.lists(st.integers(1, 3000), min_size=1, max_size=3),
       start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                          timezones=st.just(UTC)))
def test_the_generator_draws_the_same_tokens_as_randoms_own_methods(seed, days, sizes, start):
    levels = demo._day_levels(random.Random(f"{seed}/levels"), start.date(), days)
    cum_weights = list(demo._accumulate(levels))
    ours, theirs = random.Random(f"{seed}/tokens"), random.Random(f"{seed}/tokens")
    for size in sizes:  # batch after batch from one generator, as a load does
        assert (demo._token_batch(ours, size, start, cum_weights, levels)
                == reference_batch(theirs, size, start, cum_weights, levels))
    assert ours.getstate() == theirs.getstate()


def test_a_generator_holding_half_a_gauss_pair_is_refused():
    rng = random.Random(7)
    rng.gauss()
    with pytest.raises(ValueError, match="half a gauss pair"):
        demo._launches(rng, 1, [1.0], [1.0])
