"""The CSV import's column-wise half: reading a file in chunks of lines, splitting a plain chunk
with Arrow's vectorised CSV reader, and screening whole columns at once.

A screen never decides that a cell is bad. It marks the cells it can prove good, with their
values, and leaves every other cell to the import's exact per-cell parser (csv_import.py), which
either accepts the cell after all or says why not in today's words. So the vectorised path adds
speed and never a rule or a message: a screen that is too strict costs time, not correctness.

Checking each cell in Python cost more than the database's own write (issue 18: 30,000 rows/s
against 190,000 for SQLite's executemany); here a million plain rows are split and screened in
about a second.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from core.base.parsing import (CLOCK_SKEW, EARLIEST_DATE, LATEST_DATE, MAX_CSV_LINE_CHARS,
                               MAX_NUMBER_TEXT)
from core.platform_data import rollup

_BLOCK = 1 << 22  # bytes read at a time
_NEWLINE, _COMMA, _CR = ord("\n"), ord(","), ord("\r")
_EPOCH_DAY = date(1970, 1, 1).toordinal()
MICROS_PER_DAY = 86_400_000_000


# --- chunks of lines ---------------------------------------------------------------------------

class Chunks:
    """The lines of a binary file after its header, `size` lines at a time, as bytes that end
    at a line's end. Counts the bytes handed out (for the progress bar) and the line numbers
    (the header is line 1)."""

    def __init__(self, handle: IO[bytes], size: int, first_line: int, done: int,
                 block: int = _BLOCK) -> None:
        self.handle, self.size, self.block = handle, size, block
        self.line, self.done = first_line, done  # the next chunk's first line; bytes handed out
        self.buffer, self.ends = b"", np.empty(0, dtype=np.int64)  # newline offsets in buffer
        self.eof = False

    def _fill(self) -> None:
        block = self.handle.read(max(self.block, len(self.buffer)))
        if not block:
            self.eof = True
            return
        start = len(self.buffer)
        self.buffer += block
        found = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == _NEWLINE) + start
        self.ends = np.concatenate([self.ends, found])

    def __iter__(self) -> Iterator[tuple[int, bytes, bool]]:
        """(first line number, the chunk, whether it holds `size` lines)."""
        while True:
            while len(self.ends) < self.size and not self.eof:
                self._fill()
            if len(self.ends) >= self.size:
                cut = int(self.ends[self.size - 1]) + 1
                lines, full = self.size, True
            elif self.buffer:
                cut, lines, full = len(self.buffer), len(self.ends) + (
                    0 if self.buffer.endswith(b"\n") else 1), False
            else:
                return
            chunk, self.buffer = self.buffer[:cut], self.buffer[cut:]
            self.ends = self.ends[lines:] - cut if full else np.empty(0, dtype=np.int64)
            first, self.line, self.done = self.line, self.line + lines, self.done + cut
            yield first, chunk, full

    def rest(self) -> Iterator[bytes]:
        """The remaining raw lines, for reading on line by line (a chunk is first `unread`)."""
        pending, self.buffer, self.ends = self.buffer, b"", np.empty(0, dtype=np.int64)
        lines = raw_lines(pending)
        if lines and not lines[-1].endswith(b"\n"):  # a block ended inside this line
            lines[-1] += self.handle.readline()
        yield from lines
        yield from self.handle

    def unread(self, chunk: bytes, first_line: int) -> None:
        self.buffer = chunk + self.buffer
        self.done -= len(chunk)
        self.line = first_line


def raw_lines(data: bytes) -> list[bytes]:
    """`data` split after each LF, as iterating over a binary file does (not at a lone CR)."""
    parts = data.split(b"\n")
    lines = [p + b"\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


# --- splitting a plain chunk ---------------------------------------------------------------------

def split_plain(chunk: bytes, columns: int) -> list[pa.Array] | None:
    """The chunk's cells as one string array per column, when the chunk is plain: valid UTF-8,
    no quote (so each line is one row, split at its commas), no CR but in a CRLF line end, no
    NUL, no byte-order mark, every line short enough and holding exactly `columns` cells (so no
    blank line). Anything else (None) is read line by line by the exact reader, which raises
    the same errors as always."""
    if b'"' in chunk or b"\x00" in chunk or b"\xef\xbb\xbf" in chunk:
        return None
    if chunk.count(b"\r") != chunk.count(b"\r\n"):
        return None
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError:
        return None
    data = np.frombuffer(chunk, dtype=np.uint8)
    ends = np.flatnonzero(data == _NEWLINE)
    if not chunk.endswith(b"\n"):
        ends = np.append(ends, len(chunk))
    if len(ends) == 0:
        return None
    lengths = np.diff(ends, prepend=-1)  # bytes, with the LF: never fewer than characters
    if int(lengths.max()) > MAX_CSV_LINE_CHARS:
        return None
    commas = np.bincount(np.searchsorted(ends, np.flatnonzero(data == _COMMA)),
                         minlength=len(ends))
    if len(commas) != len(ends) or (commas != columns - 1).any():
        return None
    names = [f"c{i}" for i in range(columns)]
    table = pacsv.read_csv(
        pa.py_buffer(chunk),
        read_options=pacsv.ReadOptions(column_names=names, use_threads=True),
        parse_options=pacsv.ParseOptions(quote_char=False, double_quote=False,
                                         escape_char=False, newlines_in_values=False,
                                         ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                             strings_can_be_null=False,
                                             quoted_strings_can_be_null=False))
    if table.num_rows != len(ends):
        return None
    return [table.column(i).combine_chunks() for i in range(columns)]


# --- screens: (proved good, values) for a column of cells -----------------------------------------

@dataclass(frozen=True)
class Screened:
    good: np.ndarray  # bool per cell: proved good, the value below is the exact parser's
    values: object  # per cell (garbage where not good): list[str] or a numpy array


def _matches(cells: pa.Array, pattern: str) -> np.ndarray:
    return pc.match_substring_regex(cells, pattern).to_numpy(zero_copy_only=False)


# Both ends printable ASCII other than a space: Python's strip() leaves the cell as it is.
_UNSTRIPPED = r"^[!-~](?:(?s:.*)[!-~])?$"
_CONTROL = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]"  # what text_problem refuses but tab, LF, CR


def screen_text(cells: pa.Array, limit: int) -> Screened:
    good = (_matches(cells, _UNSTRIPPED) & ~_matches(cells, _CONTROL)
            & (pc.utf8_length(cells).to_numpy(zero_copy_only=False) <= limit))
    return Screened(good, cells.to_pylist())


def screen_whole(cells: pa.Array, maximum: int) -> Screened:
    # At most 18 digits: fits an int64 whatever the digits, so the cast cannot fail.
    good = _matches(cells, r"^[0-9]{1,18}$")
    values = pc.cast(pc.if_else(pa.array(good), cells, "0"), pa.int64()).to_numpy(
        zero_copy_only=False)
    return Screened(good & (values <= maximum), values)


_NUMBER = r"^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"  # parsing's, without '-'


def screen_quantity(cells: pa.Array, maximum: int) -> Screened:
    """A figure from 0 to `maximum`, as the exact parser's float. Rounding to a double keeps
    order (and `maximum` is a double exactly), so a double below it proves the decimal below
    it; a double of exactly `maximum`, a minus sign or an overflow is left to the exact parser.
    Arrow's conversion rounds correctly, as Python's float() does (a test holds them equal)."""
    good = (_matches(cells, _NUMBER)
            & (pc.binary_length(cells).to_numpy(zero_copy_only=False) <= MAX_NUMBER_TEXT))
    values = pc.cast(pc.if_else(pa.array(good), cells, "0"), pa.float64()).to_numpy(
        zero_copy_only=False)
    return Screened(good & (values < maximum), values)


_INSTANT = (r"^(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})"
            r"(?:[T ](?P<h>[0-9]{2}):(?P<mi>[0-9]{2})(?::(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]{1,6}))?)?"
            r"(?P<z>Z|[+-][0-9]{2}:[0-9]{2})?)?$")
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * (m + np.where(m > 2, -3, 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def micros(moment: datetime) -> int:
    """An aware datetime as whole microseconds since the Unix epoch (UTC), exactly."""
    moment = moment.astimezone(UTC)
    days = moment.toordinal() - _EPOCH_DAY
    return ((days * 86400 + moment.hour * 3600 + moment.minute * 60 + moment.second) * 1_000_000
            + moment.microsecond)


def screen_instant(cells: pa.Array, now: datetime) -> Screened:
    """ISO 8601 date-times as microseconds since the epoch (UTC). Proved good: the pattern
    parsing.parse_instant reads, a real calendar date and time of day (Python refuses 24:00,
    a 60th second, an offset of 24 hours), from EARLIEST_DATE on and not after now + skew."""
    parts = pc.extract_regex(cells, _INSTANT)
    good = parts.is_valid().to_numpy(zero_copy_only=False)

    def number(name: str, width: int = 0) -> np.ndarray:
        text = pc.fill_null(parts.field(name), "")
        if width:  # a fraction: "5" is 500,000 microseconds
            text = pc.utf8_rpad(text, width=width, padding="0")
        text = pc.if_else(pc.equal(text, ""), "0", text)
        return pc.cast(text, pa.int64()).to_numpy(zero_copy_only=False)

    y, mo, d = number("y"), number("mo"), number("d")
    h, mi, s, f = number("h"), number("mi"), number("s"), number("f", 6)
    zone = pc.fill_null(parts.field("z"), "")
    sign = np.where(pc.starts_with(zone, "-").to_numpy(zero_copy_only=False), -1, 1)
    offset = pc.utf8_slice_codeunits(zone, 1)
    zh = pc.cast(pc.if_else(pc.greater(pc.utf8_length(offset), 1),
                            pc.utf8_slice_codeunits(offset, 0, 2), "0"), pa.int64()).to_numpy(
        zero_copy_only=False)
    zm = pc.cast(pc.if_else(pc.greater(pc.utf8_length(offset), 1),
                            pc.utf8_slice_codeunits(offset, 3, 5), "0"), pa.int64()).to_numpy(
        zero_copy_only=False)
    month_ok = (mo >= 1) & (mo <= 12)
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    days_in = _DAYS_IN_MONTH[np.where(month_ok, mo, 1)] + ((mo == 2) & leap)
    good &= (month_ok & (d >= 1) & (d <= days_in) & (h <= 23) & (mi <= 59) & (s <= 59)
             & (zh <= 23) & (zm <= 59))
    days = _days_from_civil(y, np.where(month_ok, mo, 1), d)
    value = (((days * 24 + h) * 60 + mi) * 60 + s) * 1_000_000 + f
    value -= sign * (zh * 60 + zm) * 60_000_000
    latest = micros(now + CLOCK_SKEW)
    earliest = (EARLIEST_DATE.toordinal() - _EPOCH_DAY) * MICROS_PER_DAY
    last = (LATEST_DATE.toordinal() - _EPOCH_DAY + 1) * MICROS_PER_DAY
    good &= (value >= earliest) & (value <= latest) & (value < last)
    return Screened(good, value)


# --- the roll-up ---------------------------------------------------------------------------------

class MinuteSums:
    """New tokens' roll-up deltas, summed column-wise over a whole import and written once
    (rollup.grow_buckets): a million tokens over four months touch 170,000 minute buckets, and
    summing and writing them a bucket at a time in Python cost as much as the load itself.

    The sums are rollup.Changes's own: each figure as an integer count of 1e-8 units (rounded
    half to even, kept only where it gives the double back), the rows without such units left
    to rollup.Changes. Units are below 2**50, so they are summed as two 25-bit halves in int64,
    which no file of fewer than 2**38 rows can overflow."""

    _HALF = 25
    _MERGE = 16  # chunks' sums kept apart before they are added up

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, created: np.ndarray, prices: np.ndarray, volumes: np.ndarray) -> np.ndarray:
        """Count new tokens in; returns the mask of those it left to rollup.Changes."""
        scale, bound = rollup.UNIT_SCALE, rollup.UNIT_BOUND
        price_units, volume_units = np.rint(prices * scale), np.rint(volumes * scale)
        short = ((np.abs(prices) < bound) & (price_units / scale == prices)
                 & (np.abs(volumes) < bound) & (volume_units / scale == volumes))
        minutes = created[short] // 60_000_000
        self.parts.append(self._grouped(minutes, np.ones(len(minutes), dtype=np.int64),
                                        *self._halves(price_units[short].astype(np.int64)),
                                        *self._halves(volume_units[short].astype(np.int64))))
        if len(self.parts) >= self._MERGE:  # bounded memory: one entry per minute seen
            self.parts = [self._merged()]
        return ~short

    def _merged(self) -> tuple[np.ndarray, ...]:
        return self._grouped(*(np.concatenate(column) for column in zip(*self.parts)))

    def _halves(self, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return units >> self._HALF, units & ((1 << self._HALF) - 1)

    @staticmethod
    def _grouped(keys: np.ndarray, *sums: np.ndarray) -> tuple[np.ndarray, ...]:
        """(the distinct keys, each of `sums` added up per key)."""
        distinct, inverse = np.unique(keys, return_inverse=True)
        totals = []
        for column in sums:
            total = np.zeros(len(distinct), dtype=np.int64)
            np.add.at(total, inverse, column)
            totals.append(total)
        return (distinct, *totals)

    def layers(self) -> Iterator[tuple[int, np.ndarray, list[int], list[int], list[int]]]:
        """(width, bucket starts in epoch minutes, tokens, price sums, volume sums in units) for
        the minute, hour and day layers, each in time order (the roll-up's lock order)."""
        if not self.parts:
            return
        minutes = self._merged()
        for width in rollup.WIDTHS:
            keys = minutes[0]
            layer = self._grouped(keys - keys % (width // 60), *minutes[1:]) if width > 60 \
                else minutes
            starts, tokens, price_hi, price_lo, volume_hi, volume_lo = layer
            whole = self._HALF
            yield (width, starts, tokens.tolist(),
                   [(h << whole) + lo for h, lo in zip(price_hi.tolist(), price_lo.tolist())],
                   [(h << whole) + lo for h, lo in zip(volume_hi.tolist(), volume_lo.tolist())])

    def copy_lines(self) -> list[tuple[int, np.ndarray, list[str]]]:
        """PostgreSQL: each layer's (width, bucket starts, COPY text lines), made before the
        database is needed, so a writer can make them while the server is still busy."""
        made = []
        for width, starts, tokens, prices, volumes in self.layers():
            made.append((width, starts, [
                f"{width}\t{start}+00\t{count}\t{_units_text(price)}\t{_units_text(volume)}\n"
                for start, count, price, volume in zip(
                    sqlite_times(starts * 60_000_000), tokens, prices, volumes)]))
        return made

    def write(self, session: Any, copy_lines: list[tuple[int, np.ndarray, list[str]]] | None = None
              ) -> None:
        """Into the roll-up, in the caller's transaction (PostgreSQL: `copy_lines` if made)."""
        if session.get_bind().dialect.name == "sqlite":
            rows = [(width, start, count, _units_text(price), _units_text(volume))
                    for width, starts, tokens, prices, volumes in self.layers()
                    for start, count, price, volume in zip(
                        sqlite_times(starts * 60_000_000), tokens, prices, volumes)]
            rollup.grow_buckets(session, rows, None)
            return
        stored_lines: list[str] = []
        new_lines: list[str] = []
        for width, starts, lines in self.copy_lines() if copy_lines is None else copy_lines:
            if not len(starts):  # every figure was left to rollup.Changes
                continue
            # Buckets stored already get the deltas added; the others are plain new rows.
            stored = np.isin(starts, rollup.stored_bucket_minutes(
                session, width, int(starts[0]), int(starts[-1])))
            stored_lines += itertools.compress(lines, stored.tolist())
            new_lines += itertools.compress(lines, (~stored).tolist())
        rollup.grow_buckets(session, None, "".join(stored_lines).encode(),
                            "".join(new_lines).encode())


def _units_text(units: int) -> str:
    """The text of the Decimal rollup.Changes makes of `units` 1e-8 units (what SQLite stores):
    plain digits from 100 units up, Python's exponent form below (`1.5E-7`)."""
    if units >= 100:
        whole, fraction = divmod(units, 10**8)
        return f"{whole}.{fraction:08d}"
    return str(rollup.EXACT_UNITS(units))


# --- writing ---------------------------------------------------------------------------------

def sqlite_times(values: np.ndarray) -> list[str]:
    """Microseconds since the epoch as the text SQLAlchemy stores on SQLite (bulk.sqlite_time)."""
    return pa.array(values, pa.timestamp("us")).cast(pa.string()).to_pylist()


def _copy_escaped(values: list[str]) -> pa.Array:
    """Text as COPY's text format writes it: backslash, tab, LF and CR escaped."""
    array = pa.array(values, pa.string())
    for char, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        array = pc.replace_substring(array, char, escaped)
    return array


def copy_text(symbols: list[str], names: list[str], prices: np.ndarray, volumes: np.ndarray,
              created: np.ndarray) -> pa.Buffer:
    """New tokens as the body of a `COPY tokens (bulk.TOKEN_COLUMNS) FROM STDIN` in the text
    format, made column-wise. Doubles are written as the shortest text that reads back as the
    same double, so PostgreSQL stores the very value the exact parser gives."""
    times = pa.array(created, pa.timestamp("us")).cast(pa.string())
    line = pc.binary_join_element_wise(
        _copy_escaped(symbols), _copy_escaped(names),
        pa.array(prices, pa.float64()).cast(pa.string()),
        pa.array(volumes, pa.float64()).cast(pa.string()),
        pc.binary_join_element_wise(times, pa.scalar("+00\n"), ""), "\t")
    line = line.combine_chunks() if isinstance(line, pa.ChunkedArray) else line
    offsets = np.frombuffer(line.buffers()[1], dtype=np.int32)[line.offset:line.offset + len(line) + 1]
    return line.buffers()[2][int(offsets[0]):int(offsets[-1])]
