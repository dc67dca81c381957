"""How a range is cut into roll-up buckets and raw edges (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from core.rollup import BEGINNING, DAY, HOUR, MINUTE, RAW, segments

instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC))


@given(instants, instants)
def test_segments_cover_the_range_exactly_with_aligned_buckets_and_short_raw_edges(a, b):
    lo, hi = min(a, b), max(a, b)
    parts = segments(lo, hi)
    position = lo
    for width, start, stop in parts:  # contiguous, in order, nothing twice
        assert start == position and stop > start
        position = stop
        if width == RAW:
            assert stop - start < timedelta(minutes=1) or (start == lo and stop == hi)
        else:
            step = timedelta(seconds=width)
            assert (start - start.replace(hour=0, minute=0, second=0, microsecond=0)) % step == timedelta(0)
            assert (stop - start) % step == timedelta(0)
    assert position == (hi if parts else lo)
    assert sum(1 for p in parts if p[0] == RAW) <= 2
    # A handful of index ranges whatever the length: at most two of each finer width.
    assert len(parts) <= 2 + 2 + 2 + 1


def test_a_range_inside_one_minute_is_read_raw_and_an_aligned_day_is_one_bucket():
    at = datetime(2024, 3, 1, 10, 5, 7, tzinfo=UTC)
    assert segments(at, at + timedelta(seconds=30)) == [(RAW, at, at + timedelta(seconds=30))]
    day = datetime(2024, 3, 1, tzinfo=UTC)
    assert segments(day, day + timedelta(days=1)) == [(DAY, day, day + timedelta(days=1))]
    assert segments(at, at) == []


def test_an_open_start_takes_every_whole_day_from_the_beginning():
    hi = datetime(2024, 3, 1, 10, 5, 7, tzinfo=UTC)
    day, hour, minute = (datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 1, 10, tzinfo=UTC),
                         datetime(2024, 3, 1, 10, 5, tzinfo=UTC))
    assert segments(None, hi) == [(DAY, BEGINNING, day), (HOUR, day, hour), (MINUTE, hour, minute),
                                  (RAW, minute, hi)]
