"""How a range is cut into roll-up buckets and signed raw edges (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import assume, given
from hypothesis import strategies as st

from core.platform_data.rollup import BEGINNING, DAY, HOUR, MINUTE, RAW, segments

instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC))
HALF_MINUTE = timedelta(seconds=30)
HALF_HOUR = timedelta(minutes=30)


def _coverage(parts, lo, hi):
    """For each elementary interval between the segments' edges: (start, stop, signed count)."""
    edges = sorted({lo, hi, *(p[1] for p in parts), *(p[2] for p in parts)})
    return [(a, b, sum(sign for _, start, stop, sign in parts if start <= a and b <= stop))
            for a, b in zip(edges, edges[1:])]


@given(instants, instants)
def test_segments_add_up_to_the_range_exactly_with_aligned_buckets_and_short_edge_parts(a, b):
    lo, hi = min(a, b), max(a, b)
    parts = segments(lo, hi)
    for start, stop, count in _coverage(parts, lo, hi):  # every instant counted once, or never
        assert count == (1 if lo <= start and stop <= hi else 0)
    for width, start, stop, sign in parts:
        assert stop > start and sign in (1, -1)
        if width == RAW:
            # At most half a minute, unless the range is read whole (it holds no minute).
            assert stop - start <= HALF_MINUTE or (start, stop, sign) == (lo, hi, 1)
            assert stop - start < timedelta(minutes=2)
            continue
        step = timedelta(seconds=width)
        assert (start - start.replace(hour=0, minute=0, second=0, microsecond=0)) % step == timedelta(0)
        assert (stop - start) % step == timedelta(0)
        if width == MINUTE:  # an edge's part, or a range too short to hold a rounded hour
            assert stop - start <= HALF_HOUR or (sign == 1 and stop - start < timedelta(hours=2))
        else:
            assert sign == 1  # hours and days are only ever added
    assert sum(1 for p in parts if p[0] == RAW) <= 2
    # A handful of index ranges whatever the length: at most two of each finer width.
    assert len(parts) <= 2 + 2 + 2 + 1


@given(instants, instants, instants)
def test_periods_meeting_at_an_edge_share_its_edge_parts_once_added_once_subtracted(a, b, c):
    lo, edge, hi = sorted((a, b, c))
    assume(edge - lo > timedelta(hours=2) and hi - edge > timedelta(hours=2))
    before = {p[:3]: p[3] for p in segments(lo, edge) if p[0] in (RAW, MINUTE) and edge_of(p, edge)}
    after = {p[:3]: p[3] for p in segments(edge, hi) if p[0] in (RAW, MINUTE) and edge_of(p, edge)}
    assert before.keys() == after.keys()
    assert all(before[k] == -after[k] for k in before)
    minute = edge.replace(second=0, microsecond=0)
    if edge - minute > HALF_MINUTE:
        minute += timedelta(minutes=1)
    # A raw part unless the edge is on a minute, a minutes part unless that minute is on an hour.
    assert len(before) == (edge != minute) + (minute.minute != 0)


def edge_of(part, edge: datetime) -> bool:
    """A part within half an hour of the edge (the edge's own parts)."""
    return part[1] >= edge - HALF_HOUR - timedelta(minutes=1) and part[2] <= edge + HALF_HOUR + timedelta(minutes=1)


def test_an_edge_reads_the_shorter_side_of_its_minute_and_of_its_hour():
    minute = datetime(2024, 3, 1, 10, 5, tzinfo=UTC)
    early, late = minute + timedelta(seconds=10), minute + timedelta(seconds=50)
    end = minute + timedelta(hours=3)
    hour = datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert (RAW, minute, early, -1) in segments(early, end)
    assert (MINUTE, hour, minute, -1) in segments(early, end)  # 10:00-10:05, outside the range
    assert (RAW, late, minute + timedelta(minutes=1), 1) in segments(late, end)
    start = minute - timedelta(hours=3)
    assert (RAW, minute, early, 1) in segments(start, early)
    assert (MINUTE, hour, minute, 1) in segments(start, early)  # 10:00-10:05, inside
    assert (RAW, late, minute + timedelta(minutes=1), -1) in segments(start, late)
    at_40 = datetime(2024, 3, 1, 10, 40, tzinfo=UTC)
    assert (MINUTE, at_40, hour + timedelta(hours=1), 1) in segments(at_40, end)


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
