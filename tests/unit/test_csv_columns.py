"""csv_columns: a screen proves a cell good only where the exact parser gives the same value."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.base.parsing import MAX_TOKEN_PRICE_USD
from core.platform_data import csv_columns as cols
from core.platform_data import rollup
from core.platform_data.csv_import import SPECS
from db.rollup import EXACT

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
TOKENS = {c.name: c for c in SPECS["tokens"].columns}


def agrees(column_name: str, cells: list[str]) -> None:
    """Every cell the screen proves good parses exactly to the screen's value."""
    column = TOKENS[column_name]
    screened = column.screen(pa.array(cells, pa.string()), NOW)
    values = screened.values
    for cell, good, value in zip(cells, screened.good.tolist(), list(values)):
        if not good:
            continue
        exact = column.parse(cell.strip(), NOW)
        if column.form == "micros":
            exact = cols.micros(exact)
        assert cell == cell.strip() and exact == value, (cell, exact, value)


NUMBERS = ["0", "-0", "0.0", "1", "1.", ".5", "1e3", "1E+3", "2.5e-3", "1e-400", "-1", "+1",
           "1_0", " 1", "1 ", "inf", "nan", "1e308", "1e400", "٧٨", "1000000000",
           "999999999.9999999999999999", "1000000000.000000000000001", "0" * 101,
           "0.1000000000000000055511151231257827021181583404541015625000001", "00012.50",
           "9007199254740993", "", "abc", "1.2.3", "1e", ".", "-.5"]


def test_a_price_is_proved_good_only_where_the_exact_parser_agrees():
    agrees("price", NUMBERS)
    screened = TOKENS["price"].screen(pa.array(NUMBERS, pa.string()), NOW)
    proved = {cell for cell, good in zip(NUMBERS, screened.good.tolist()) if good}
    # The maximum itself, a minus sign, an overflow and every malformed cell go to the parser.
    assert {"1000000000", "-0", "1e400", "inf", " 1", "+1", "0" * 101}.isdisjoint(proved)
    assert {"1.", ".5", "1e3", "1e-400", "00012.50"} <= proved


@settings(max_examples=300, deadline=None)
@given(st.decimals(min_value=0, max_value=MAX_TOKEN_PRICE_USD * 2, allow_nan=False,
                   allow_infinity=False, places=None))
def test_any_decimal_price_screens_to_the_double_the_exact_parser_gives(number):
    agrees("price", [str(number), f"{number:e}", f"{number:f}"])


INSTANTS = ["2024-03-01", "2024-03-01T12:00Z", "2024-03-01 12:00:00", "2024-03-01T12:00:00.5Z",
            "2024-03-01T12:00:00.123456+05:30", "2024-03-01T12:00:00-00:00",
            "2024-02-29T23:59:59-11:59", "2023-02-29T00:00:00Z", "2024-02-30", "2024-13-01",
            "2024-03-01T24:00:00Z", "2024-03-01T23:59:60Z", "2024-03-01T12:00:00+24:00",
            "2024-03-01T12:00:00+23:60", "1999-12-31T23:59:59Z", "2000-01-01T00:00:00Z",
            "2026-06-02T12:00:00Z", "2026-06-02T12:00:00.000001Z", "2026-06-03",
            "9999-01-01T00:00:00Z", "20240301", "2024-03-01T12", "2024-03-01T12:00:00.1234567Z",
            " 2024-03-01", "٢٠٢٤-٠٣-٠١", "2000-01-01T00:30:00+01:00"]


def test_an_instant_is_proved_good_only_where_the_exact_parser_agrees():
    agrees("created_at", INSTANTS)
    screened = TOKENS["created_at"].screen(pa.array(INSTANTS, pa.string()), NOW)
    proved = {cell for cell, good in zip(INSTANTS, screened.good.tolist()) if good}
    assert "2026-06-02T12:00:00Z" in proved  # now + a day of clock skew, to the microsecond
    assert "2026-06-02T12:00:00.000001Z" not in proved  # a microsecond after it
    assert "2024-02-29T23:59:59-11:59" in proved  # a leap day, the next day in UTC
    assert "2000-01-01T00:30:00+01:00" not in proved  # 1999 in UTC


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2030, 1, 1)),
       st.sampled_from(["Z", "+00:00", "+05:30", "-11:59", ""]), st.booleans())
def test_any_iso_instant_screens_to_the_microsecond_the_exact_parser_gives(moment, zone, space):
    text = moment.isoformat(" " if space else "T") + zone
    agrees("created_at", [text, moment.date().isoformat()])


def test_text_with_outer_spaces_controls_or_too_many_characters_goes_to_the_parser():
    cells = ["Pepe", "Pepe Coin", " Pepe", "Pepe\u00a0", "\u2003x", "Pe\x01pe", "Pe\tpe", "n" * 200,
             "n" * 201, "🐸 Frog", "Frog 🐸", "x\x1f"]
    column = TOKENS["name"]
    agrees("name", cells)
    good = dict(zip(cells, column.screen(pa.array(cells), NOW).good.tolist()))
    assert good["Pepe Coin"] and good["Pe\tpe"] and good["n" * 200]
    assert not any(good[c] for c in (" Pepe", "Pepe\u00a0", "\u2003x", "Pe\x01pe", "n" * 201,
                                     "🐸 Frog", "x\x1f"))


def test_an_id_is_proved_good_only_as_plain_digits_within_its_bound():
    cells = ["1", "007", "9223372036854775807", "99999999999999999999", "-1", "1.0", "1e3", " 1"]
    agrees("id", cells)
    good = TOKENS["id"].screen(pa.array(cells), NOW).good.tolist()
    assert good == [True, True, False, False, False, False, False, False]


@pytest.mark.parametrize("chunk", [
    b'A,"B,C",1,1,2024-01-01\n', b"A,B,1,1,2024-01-01\n\nC,D,1,1,2024-01-01\n",
    b"A,B,1,1\n", b"A,B,1,1,2024-01-01\rC,D,1,1,2024-01-01\n", b"A,\xff,1,1,2024-01-01\n",
    b"A,B\x00,1,1,2024-01-01\n", b"A,B,1,1,2024-01-01\n\xef\xbb\xbfA,B,1,1,2024-01-01\n",
    b"A," + b"n" * 5000 + b",1,1,2024-01-01\n"])
def test_a_chunk_with_anything_odd_is_left_to_the_line_by_line_reader(chunk):
    assert cols.split_plain(chunk, 5) is None


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 20])
def test_chunks_cut_at_line_ends_and_the_rest_reads_on_from_where_a_chunk_was_put_back(block):
    lines = [f"line {i}".encode() * (i % 4) + b"\n" for i in range(40)] + [b"no line end"]
    chunks = cols.Chunks(io.BytesIO(b"".join(lines)), 6, 2, 0, block=block)
    read = iter(chunks)
    assert [next(read) for _ in range(2)] == [(2, b"".join(lines[:6]), True),
                                              (8, b"".join(lines[6:12]), True)]
    first, chunk, _ = next(read)
    chunks.unread(chunk, first)
    assert (chunks.line, chunks.done) == (14, len(b"".join(lines[:12])))
    assert list(chunks.rest()) == lines[12:]


def test_a_plain_chunk_splits_into_columns_with_crlf_and_without_a_last_line_end():
    split = cols.split_plain(b"A,B ,1,1,x\r\nC,,2,2,y", 5)
    assert [c.to_pylist() for c in split] == [["A", "C"], ["B ", ""], ["1", "2"], ["1", "2"],
                                             ["x", "y"]]


def column_and_row_wise(created: np.ndarray, prices: np.ndarray, volumes: np.ndarray
                        ) -> tuple[dict, dict]:
    """The buckets (as rollup.Changes.buckets gives them) summed column-wise, with the rows
    MinuteSums leaves to rollup.Changes counted there, and summed row by row."""
    sums, rest, row_wise = cols.MinuteSums(), rollup.Changes(), rollup.Changes()
    long = sums.add(created, prices, volumes)
    rest.count_minutes(zip((created[long] // 60_000_000).tolist(), prices[long].tolist(),
                           volumes[long].tolist()), 1)
    column_wise = rest.buckets()
    for width, starts, tokens, price_sums, volume_sums in sums.layers():
        layer = column_wise.setdefault(width, {})
        for start, count, price, volume in zip(starts.tolist(), tokens, price_sums, volume_sums):
            entry = layer.setdefault(start, [0, Decimal(0), Decimal(0)])
            entry[0] += count
            entry[1] = EXACT.add(entry[1], rollup.EXACT_UNITS(price))
            entry[2] = EXACT.add(entry[2], rollup.EXACT_UNITS(volume))
    row_wise.count_minutes(zip((created // 60_000_000).tolist(), prices.tolist(),
                               volumes.tolist()), 1)
    return column_wise, row_wise.buckets()


def test_column_wise_roll_up_sums_equal_the_row_by_row_ones():
    rng = random.Random(5)
    size = 20_000
    created = np.array([rng.randrange(0, 3 * 86_400_000_000) for _ in range(size)],
                       dtype=np.int64) + 1_700_000_000_000_000
    figures = [rng.choice([round(rng.random() * 100, 8), rng.random() * 1e12, 1e-9 * rng.random(),
                           float(rng.randrange(10**6)), 0.1, 9_999_999.99999999, 1.5e-7, 0.0])
               for _ in range(2 * size)]
    column_wise, row_wise = column_and_row_wise(created, np.array(figures[:size]),
                                                np.array(figures[size:]))
    assert column_wise == row_wise


def test_a_minute_of_ten_thousand_tokens_at_the_largest_short_figure_is_summed_exactly():
    size = 10_000  # their unit sums are past what an int64 holds
    created = np.full(size, 1_700_000_000_000_000, dtype=np.int64)
    prices = np.full(size, 9_999_999.99999999)
    column_wise, row_wise = column_and_row_wise(created, prices, prices)
    assert column_wise == row_wise


@pytest.mark.parametrize("units", [0, 1, 15, 99, 100, 12_345, 10**8, 123_456_789_012_345])
def test_a_sum_is_written_as_the_text_of_the_roll_ups_own_decimal(units):
    assert cols._units_text(units) == str(rollup.EXACT_UNITS(units))


def test_the_sums_of_many_chunks_are_added_up_as_they_come_and_stay_exact():
    rng = random.Random(9)
    sums, row_wise = cols.MinuteSums(), rollup.Changes()
    for _ in range(40):  # more chunks than are kept apart
        created = np.array([rng.randrange(0, 600_000_000) for _ in range(50)], dtype=np.int64)
        prices = np.array([round(rng.random() * 1000, 8) for _ in range(50)])
        assert not sums.add(created, prices, prices).any()
        row_wise.count_minutes(zip((created // 60_000_000).tolist(), prices.tolist(),
                                   prices.tolist()), 1)
    assert len(sums.parts) < 16
    column_wise = {width: {start: [count, rollup.EXACT_UNITS(price), rollup.EXACT_UNITS(volume)]
                           for start, count, price, volume in zip(starts.tolist(), *rest)}
                   for width, starts, *rest in sums.layers()}
    assert column_wise == row_wise.buckets()
