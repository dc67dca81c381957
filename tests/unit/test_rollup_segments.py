"""How a range is cut into roll-up buckets and signed raw edges (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import assume, given
from hypothesis import strategies as st

from core.rollup import BEGINNING, DAY, HOUR, MINUTE, RAW, segments

instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC))
HALF_MINUTE = timedelta(seconds=30)


def _coverage(parts, lo, hi):
    """For each elementary interval between the segments' edges: (start, stop, signed count)."""
    edges = sorted({lo, hi, *(p[1] for p in parts), *(p[2] for p in parts)})
    return [(a, b, sum(sign for _, start, stop, sign in parts if start <= a and b <= stop))
            for a, b in zip(edges, edges[1:])]


@given(instants, instants)
def test_segments_add_up_to_the_range_exactly_with_aligned_buckets_and_short_raw_edges(a, b):
    lo, hi = min(a, b), max(a, b)
    parts = segments(lo, hi)
    for start, stop, count in _coverage(parts, lo, hi):  # every instant counted once, or never
        assert count == (1 if lo <= start and stop <= hi else 0)
    for width, start, stop, sign in parts:
        assert stop > start and sign in (1, -1)
        if width == RAW:
            # At most half a minute, unless the whole range fits one minute or two short edges
            # meet on a minute.
            assert stop - start <= HALF_MINUTE or (start, stop, sign) == (lo, hi, 1)
            assert stop - start < timedelta(minutes=2)
        else:
            assert sign == 1  # only raw parts are subtracted
            step = timedelta(seconds=width)
            assert (start - start.replace(hour=0, minute=0, second=0, microsecond=0)) % step == timedelta(0)
            assert (stop - start) % step == timedelta(0)
    assert [p[1] for p in parts] == sorted(p[1] for p in parts)
    assert sum(1 for p in parts if p[0] == RAW) <= 2
    # A handful of index ranges whatever the length: at most two of each finer width.
    assert len(parts) <= 2 + 2 + 2 + 1


@given(instants, instants, instants)
def test_periods_meeting_at_an_edge_read_the_same_raw_part_once_added_once_subtracted(a, b, c):
    lo, edge, hi = sorted((a, b, c))
    minute = edge.replace(second=0, microsecond=0)
    assume(edge != minute and lo < minute - timedelta(minutes=1) and hi > minute + timedelta(minutes=2))
    before, after = segments(lo, edge)[-1], segments(edge, hi)[0]
    assert before[0] == after[0] == RAW
    assert before[1:3] == after[1:3] and before[3] == -after[3]


def test_an_edge_reads_the_shorter_side_of_its_minute():
    minute = datetime(2024, 3, 1, 10, 5, tzinfo=UTC)
    early, late = minute + timedelta(seconds=10), minute + timedelta(seconds=50)
    end = minute + timedelta(hours=2)
    assert segments(early, end)[0] == (RAW, minute, early, -1)
    assert segments(early, end)[1][:2] == (MINUTE, minute)
    assert segments(late, end)[0] == (RAW, late, minute + timedelta(minutes=1), 1)
    start = minute - timedelta(hours=2)
    assert segments(start, early)[-1] == (RAW, minute, early, 1)
    assert segments(start, late)[-1] == (RAW, late, minute + timedelta(minutes=1), -1)
    assert segments(start, late)[-2][2] == minute + timedelta(minutes=1)


def test_a_range_inside_one_minute_is_read_raw_and_an_aligned_day_is_one_bucket():
    at = datetime(2024, 3, 1, 10, 5, 7, tzinfo=UTC)
    assert segments(at, at + timedelta(seconds=30)) == [(RAW, at, at + timedelta(seconds=30), 1)]
    day = datetime(2024, 3, 1, tzinfo=UTC)
    assert segments(day, day + timedelta(days=1)) == [(DAY, day, day + timedelta(days=1), 1)]
    assert segments(at, at) == []


def test_an_open_start_takes_every_whole_day_from_the_beginning():
    hi = datetime(2024, 3, 1, 10, 5, 7, tzinfo=UTC)
    day, hour, minute = (datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 1, 10, tzinfo=UTC),
                         datetime(2024, 3, 1, 10, 5, tzinfo=UTC))
    assert segments(None, hi) == [(DAY, BEGINNING, day, 1), (HOUR, day, hour, 1),
                                  (MINUTE, hour, minute, 1), (RAW, minute, hi, 1)]


def test_times_before_1970_are_cut_on_the_same_edges():
    lo = datetime(1969, 12, 31, 23, 58, 40, 500, tzinfo=UTC)
    hi = datetime(1970, 1, 1, 0, 1, 20, tzinfo=UTC)
    assert segments(lo, hi) == [
        (RAW, lo, datetime(1969, 12, 31, 23, 59, tzinfo=UTC), 1),
        (MINUTE, datetime(1969, 12, 31, 23, 59, tzinfo=UTC), datetime(1970, 1, 1, 0, 1, tzinfo=UTC), 1),
        (RAW, datetime(1970, 1, 1, 0, 1, tzinfo=UTC), hi, 1)]
