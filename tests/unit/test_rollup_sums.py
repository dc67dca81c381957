"""The roll-up's sums made in Python while loading (integer units where a figure allows, exact
decimals otherwise) and its keys and stored texts (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, localcontext

from hypothesis import example, given
from hypothesis import strategies as st

from core.platform_data import rollup
from db import bulk
from db.rollup import EXACT

# Anything a double can be, biased toward what loads carry: the demo's 8- and 2-place figures,
# round numbers, figures on either side of the integer path's 1e7 bound, tiny and huge ones.
doubles = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=0, max_value=1e15, allow_nan=False),
    st.integers(0, 10**15).map(lambda n: round(n / 10**8, 8)),
    st.integers(0, 10**13).map(lambda n: round(n / 100, 2)),
    st.sampled_from([0.0, -0.0, 0.1, 0.3, 1e-8, 1.5e-8, 1e-9, 5e-324, 9_999_999.99999999,
                     1e7, 10_000_000.01, 1e15, 0.1 + 0.2, 123456.78901234]))
instants = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                                                   timezone(timedelta(hours=-8))]))
rows = st.lists(st.tuples(instants, doubles, doubles), max_size=40)


def decimal_buckets(added, removed) -> dict[int, dict[int, list]]:
    """What the roll-up must add per bucket: each figure as the Decimal its repr prints."""
    out: dict[int, dict[int, list]] = {}
    with localcontext(EXACT):
        for sign, part in ((1, added), (-1, removed)):
            for at, price, volume in part:
                at = at.astimezone(UTC)
                for width, start in ((rollup.MINUTE, at.replace(second=0, microsecond=0)),
                                     (rollup.HOUR, at.replace(minute=0, second=0, microsecond=0)),
                                     (rollup.DAY, at.replace(hour=0, minute=0, second=0,
                                                             microsecond=0))):
                    key = (start - rollup.EPOCH) // timedelta(minutes=1)
                    entry = out.setdefault(width, {}).setdefault(key, [0, Decimal(0), Decimal(0)])
                    entry[0] += sign
                    entry[1] += sign * Decimal(repr(price))
                    entry[2] += sign * Decimal(repr(volume))
    return {w: kept for w, layer in out.items()
            if (kept := {k: v for k, v in layer.items() if v[0] or v[1] or v[2]})}


def rollup_buckets(added, removed) -> dict[int, dict[int, list]]:
    changes = rollup.Changes()
    changes.add(added)
    changes.remove(removed)
    return {w: layer for w, layer in changes.buckets().items() if layer}


@given(rows, rows)
@example([(datetime(2024, 3, 1, tzinfo=UTC), 0.1, 1e7), (datetime(2024, 3, 1, tzinfo=UTC), 0.2, 0.5)],
         [(datetime(2024, 3, 1, 0, 0, 59, tzinfo=UTC), 0.1, 10_000_000.01)])
def test_the_sums_made_while_loading_equal_the_exact_decimals_of_the_figures(added, removed):
    assert rollup_buckets(added, removed) == decimal_buckets(added, removed)


def test_figures_with_more_places_or_above_the_bound_still_sum_exactly():
    at = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
    figures = [0.1, 1.23456789012345e-5, 12_345_678.9, 1e300, 5e-324, 0.30000000000000004]
    changes = rollup.Changes()
    changes.add((at, f, f) for f in figures)
    minute = changes.buckets()[rollup.MINUTE][rollup.epoch_minute(at)]
    with localcontext(EXACT):
        exact = sum((Decimal(repr(f)) for f in figures), Decimal(0))
    assert minute == [6, exact, exact]
    assert minute[1] != sum(figures)  # a float sum would have lost the tiny ones


def test_a_token_moved_out_and_back_leaves_no_bucket_behind():
    at = datetime(2024, 3, 1, 12, 30, 5, tzinfo=UTC)
    changes = rollup.Changes()
    changes.add([(at, 0.1, 2e7 + 0.5)])
    changes.remove([(at, 0.1, 2e7 + 0.5)])
    assert changes.buckets() == {rollup.MINUTE: {}, rollup.HOUR: {}, rollup.DAY: {}}


@given(instants)
def test_the_epoch_minute_is_the_minute_the_instant_falls_in(at):
    minute = rollup.epoch_minute(at)
    assert rollup.minute_start(minute) == at.astimezone(UTC).replace(second=0, microsecond=0)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-3, minutes=-15))])),
       st.lists(st.integers(0, 3650 * 86400), max_size=30))
def test_the_demo_clock_writes_what_sqlalchemy_stores_for_each_launch(start, seconds):
    launches = [("S", "N", 1.0, 2.0, s) for s in seconds]
    assert [r[4] for r in bulk.SqliteClock(start).rows(launches)] == [
        bulk.sqlite_time(start + timedelta(seconds=s)) for s in seconds]
