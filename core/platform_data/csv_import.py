"""Loading platform data from CSV: tokens, daily engagement, DAO treasury snapshots.

Strict and all-or-nothing: every row is checked (types, required values, negatives, dates,
duplicate keys within the file) and the whole file is written in one transaction, so one bad
row means nothing is written and the caller gets a report of the bad rows. Large files stream:
rows go to the database in batches while the file is read, and the transaction only commits
at the end. Re-importing an engagement day or a treasury instant updates it (an upsert); a token
row with an `id` updates that token, one without gets a new id.

Checked column-wise (issue 18): chunks of lines are split by Arrow and whole columns screened
at once (csv_columns.py); a cell no screen can prove good goes to this module's cell parsers,
which keep every rule and message. Bad rows are reported by line, first to last, as before.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import sqlalchemy as sa
import sqlalchemy.orm as so

from core.base.errors import NotFound, ValidationFailed
from core.base.formatting import count
from core.base.parsing import (MAX_CSV_LINE_CHARS, MAX_DAILY_COUNT, MAX_TOKEN_PRICE_USD,
                               MAX_TOKEN_VOLUME_USD, MAX_TREASURY_BALANCE_USD, TEXT_LIMITS,
                               parse_date, parse_instant, parse_whole, shown, text_problem,
                               to_decimal)
from core.base.sessions import database_failures, writing
from core.platform_data import csv_columns as cols
from core.platform_data import rollup
from core.record.activity import record_activity
from db import bulk
from db.engine import READ_ONLY, Database
from db.models import EngagementDaily, Token, TreasurySnapshot
from db.types import utcnow

BATCH_SIZE = 100_000  # lines a chunk: enough for Arrow and numpy to pay off
# No row of these files comes near it (the longest text cell is 200 characters); a longer line
# is a wrong file, refused before the csv module's own field limit (131,072) says it obscurely.
MAX_REPORTED = 20
MAX_INT64 = 2**63 - 1
MAX_BALANCE = MAX_TREASURY_BALANCE_USD

Progress = Callable[[int, int], None]  # (bytes read so far, file size in bytes)


@dataclass(frozen=True)
class ImportResult:
    table: str
    rows: int

    def as_json(self) -> dict[str, Any]:
        return {"table": self.table, "rows": self.rows}


@dataclass(frozen=True)
class BadRow:
    row: int  # line of the file; the header is line 1
    problems: tuple[tuple[str, str], ...]  # (column, reason)

    def __str__(self) -> str:
        return f"row {self.row}, " + "; ".join(f"{c}: {r}" for c, r in self.problems)


class ImportRejected(ValidationFailed):
    """Bad rows in a CSV file; nothing was written. Carries the first rows and the total."""

    def __init__(self, table: str, bad_rows: list[BadRow], total_bad: int) -> None:
        self.table, self.bad_rows, self.total_bad = table, bad_rows, total_bad
        lines = [str(b) for b in bad_rows]
        if total_bad > len(bad_rows):
            lines.append(f"... and {total_bad - len(bad_rows)} more bad rows "
                         f"({total_bad} in all); nothing was imported into {table}")
        super().__init__(*lines)


# --- cell parsers: each returns the value or raises ValueError with the reason ---------------
# The rules are core.base.parsing's (the dashboard and the API read numbers and dates the same way);
# here the column is named by the bad-row report, so the reason is kept without the field.

def _reason(error: ValidationFailed | ValueError) -> str:
    message = error.problems[0] if isinstance(error, ValidationFailed) else str(error)
    return message.split(": ", 1)[1] if message.startswith(f"{_CELL}: ") else message


_CELL = "cell"
Parser = Callable[[str, datetime], Any]  # (cell text, the import's moment) -> value


def _text(limit_of: str) -> Parser:
    def parse(raw: str, now: datetime) -> str:
        problem = text_problem(raw, TEXT_LIMITS[limit_of])
        if problem:
            raise ValueError(problem)
        return raw
    return parse


def _whole(limit: int) -> Parser:
    def parse(raw: str, now: datetime) -> int:
        if raw.startswith("-") and raw[1:].isascii() and raw[1:].isdigit():
            raise ValueError(f"{raw} is negative")
        try:
            return parse_whole(raw, _CELL, minimum=0, maximum=limit)
        except ValidationFailed as error:
            raise ValueError(_reason(error)) from None
    return parse


def _bounded(raw: str, maximum: int, places: int | None = None) -> Decimal:
    """A figure from 0 to `maximum`, exact; the reasons name the limit."""
    try:
        value = to_decimal(raw, _CELL, places=places)
    except ValueError as error:
        reason = _reason(error)
        if reason.endswith("is too large"):
            reason = f"{shown(raw, quote=False)} is above the maximum {count(maximum)}"
        elif places is not None and ("has more than" in reason or reason.endswith("is not a number")):
            reason = f"{shown(raw)} is not an amount with at most {places} decimal places"
        raise ValueError(reason) from None
    if value < 0:
        raise ValueError(f"{raw} is negative")
    if value > maximum:
        raise ValueError(f"{shown(raw, quote=False)} is above the maximum {count(maximum)}")
    return value


def _quantity(maximum: int) -> Parser:
    """A market figure (price, volume in USD): a finite number, not negative, at most `maximum`."""
    def parse(raw: str, now: datetime) -> float:
        return float(_bounded(raw, maximum)) + 0.0  # + 0.0: "-0" is stored as 0, not as -0
    return parse


def _money(raw: str, now: datetime) -> Decimal:
    # "1e3" -> 1000.00, "-0" -> 0.00
    return _bounded(raw, MAX_BALANCE, places=2).quantize(Decimal("0.01")) + 0


def _day(raw: str, now: datetime) -> date:
    try:
        return parse_date(raw, _CELL, facts=True, now=now)
    except ValidationFailed as error:
        raise ValueError(_reason(error)) from None


def _instant(raw: str, now: datetime) -> datetime:
    """ISO 8601 date-time; without an offset it is taken as UTC. Not after `now` (give or take
    core.base.parsing's clock skew): the platform cannot have recorded the future."""
    try:
        return parse_instant(raw, _CELL, facts=True, now=now)
    except ValidationFailed as error:
        raise ValueError(_reason(error)) from None


# --- what each kind of file holds and how it is written ----------------------------------------

Screen = Callable[[pa.Array, datetime], cols.Screened]


@dataclass(frozen=True)
class Column:
    name: str
    parse: Parser
    required: bool = True
    # Proves whole columns of cells good at once (csv_columns.py); the cells it cannot prove
    # go to `parse`. None: every cell goes to `parse` (files of a row a day need no more).
    screen: Screen | None = None
    # How the screen's values are kept for the writer: "micros" (an instant as microseconds
    # since the epoch, int64), "array" (numpy), or "list" (Python objects).
    form: str = "list"


def _text_column(name: str, required: bool = True) -> Column:
    limit = TEXT_LIMITS[name]
    return Column(name, _text(name), required, lambda cells, now: cols.screen_text(cells, limit))


def _quantity_column(name: str, maximum: int) -> Column:
    return Column(name, _quantity(maximum), screen=lambda cells, now: cols.screen_quantity(
        cells, maximum), form="array")


def _instant_column(name: str) -> Column:
    return Column(name, _instant, screen=cols.screen_instant, form="micros")


@dataclass(frozen=True)
class ImportSpec:
    table: sa.Table
    columns: tuple[Column, ...]
    key: str | None  # unique within a file (and the upsert key)
    # None for tokens: _TokenWriter (PostgreSQL) or the staged path (SQLite) writes them.
    write: Callable[[so.Session, list[dict[str, Any]]], None] | None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _upsert(table: sa.Table, key: str) -> Callable[[so.Session, list[dict[str, Any]]], None]:
    """INSERT ... ON CONFLICT (key) DO UPDATE: same syntax on SQLite and PostgreSQL."""
    def write(session: so.Session, rows: list[dict[str, Any]]) -> None:
        statement = bulk.dialect_insert(session.get_bind().dialect.name, table)
        columns = [c for c in rows[0] if c != key]
        statement = statement.on_conflict_do_update(
            index_elements=[key], set_={c: statement.excluded[c] for c in columns})
        session.execute(statement, rows)
    return write


class _TokenWriter:
    """Tokens in one transaction (PostgreSQL): new rows through the engine's bulk path (COPY,
    its body made column-wise), rows with an `id` as upserts; the roll-up follows, written once
    at the end (core/platform_data/rollup.py).

    One COPY stays open across batches of new rows and is fed by psycopg's writer thread, so
    the server stores a batch while this process reads and checks the next (on PostgreSQL the
    import was the sum of both). It is closed before any other statement; leaving the writer
    by an exception (a bad row further on) aborts it, so the transaction rolls back."""

    def __init__(self, session: so.Session) -> None:
        self.session, self.changes, self.sums = session, rollup.Changes(), cols.MinuteSums()
        self._copying: contextlib.ExitStack | None = None
        self._copy: Any = None
        rollup.lock_token_writes(session)

    def __enter__(self) -> _TokenWriter:
        return self

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        if self._copying is not None:
            copying, self._copying = self._copying, None
            copying.__exit__(kind, error, trace)

    def _open_copy(self) -> Any:
        if self._copying is None:
            from psycopg.copy import QueuedLibpqWriter  # PostgreSQL's driver: only here

            driver = self.session.connection().connection.driver_connection
            with contextlib.ExitStack() as copying:
                cursor = copying.enter_context(driver.cursor())
                self._copy = copying.enter_context(
                    cursor.copy(_PG_COPY, writer=QueuedLibpqWriter(cursor)))
                self._copying = copying.pop_all()
        return self._copy

    def _close_copy(self) -> None:
        """Wait for the server to store every row sent."""
        if self._copying is not None:
            copying, self._copying = self._copying, None
            copying.close()

    def write(self, batch: Batch) -> None:
        session = self.session
        ids = batch.values.get("id")
        new = np.ones(batch.size, dtype=bool) if ids is None else np.array(
            [i is None for i in ids], dtype=bool)
        if not new.all():
            self._close_copy()
            with_id = [r for r in batch.rows() if r.get("id") is not None]
            # The rows an update replaces leave their buckets: read them (locked) first.
            old = (sa.select(Token.created_at, Token.price, Token.volume_24h)
                   .where(Token.id.in_([r["id"] for r in with_id])).with_for_update())
            self.changes.remove(session.execute(old))
            _upsert(Token.__table__, "id")(session, with_id)
            _advance_token_ids(session)
        if new.any():
            values = batch.values
            if not new.all():
                values = {name: (column[new] if isinstance(column, np.ndarray)
                                 else list(itertools.compress(column, new)))
                          for name, column in values.items()}
            body = cols.copy_text(values["symbol"], values["name"], values["price"],
                                  values["volume_24h"], values["created_at"])
            self._open_copy().write(memoryview(body))
        _count_tokens(self.changes, self.sums, batch)

    def finish(self) -> None:
        lines = self.sums.copy_lines()  # while the server may still be storing the last rows
        self._close_copy()
        self.changes.apply(self.session)
        self.sums.write(self.session, lines)


def _count_tokens(changes: rollup.Changes, sums: cols.MinuteSums, batch: Batch) -> None:
    """A batch of tokens into the roll-up's changes: column-wise, but for figures that need
    rollup.Changes's exact decimals."""
    created, prices, volumes = (batch.values[c] for c in ("created_at", "price", "volume_24h"))
    long = sums.add(created, prices, volumes)
    if long.any():
        changes.count_minutes(zip((created[long] // 60_000_000).tolist(), prices[long].tolist(),
                                  volumes[long].tolist()), 1)


_PG_COPY = f"COPY tokens ({', '.join(bulk.TOKEN_COLUMNS)}) FROM STDIN"


def _advance_token_ids(session: so.Session) -> None:
    """Explicit ids do not move PostgreSQL's sequence; move it past them so new rows fit."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT setval(pg_get_serial_sequence('tokens', 'id'), "
                                "(SELECT max(id) FROM tokens)) WHERE EXISTS (SELECT 1 FROM tokens)"))


SPECS: dict[str, ImportSpec] = {
    "tokens": ImportSpec(Token.__table__, (
        Column("id", _whole(MAX_INT64), required=False,
               screen=lambda cells, now: cols.screen_whole(cells, MAX_INT64)),
        _text_column("symbol"), _text_column("name"),
        _quantity_column("price", MAX_TOKEN_PRICE_USD),
        _quantity_column("volume_24h", MAX_TOKEN_VOLUME_USD),
        _instant_column("created_at")), key="id", write=None),
    "engagement": ImportSpec(EngagementDaily.__table__, (
        Column("day", _day), Column("wallet_connections", _whole(MAX_DAILY_COUNT)),
        Column("trades_count", _whole(MAX_DAILY_COUNT)), Column("page_views", _whole(MAX_DAILY_COUNT))),
        key="day", write=_upsert(EngagementDaily.__table__, "day")),
    "treasury": ImportSpec(TreasurySnapshot.__table__, (
        Column("at", _instant), Column("balance_usd", _money)),
        key="at", write=_upsert(TreasurySnapshot.__table__, "at")),
}
KINDS = tuple(SPECS)


def _spec(kind: str) -> ImportSpec:
    if kind not in SPECS:
        raise ValidationFailed(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    return SPECS[kind]


# --- reading -----------------------------------------------------------------------------------

@dataclass
class _Counter:
    done: int = 0


def _line_text(number: int, raw: bytes) -> str:
    """A raw line of the file as text, or ValidationFailed saying why it cannot be read."""
    try:
        # A byte-order mark opening the file is what spreadsheets write: it is skipped.
        line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed(f"row {number}: is not UTF-8 text") from None
    if "\r" in line.rstrip("\r\n"):
        raise ValidationFailed(
            f"row {number}: has a carriage return inside the line; lines must end with LF or "
            "CRLF (a file whose lines end with carriage returns only is not read)")
    if len(line) > MAX_CSV_LINE_CHARS:
        raise ValidationFailed(f"row {number}: is {count(len(line))} characters long; at "
                               f"most {count(MAX_CSV_LINE_CHARS)} are allowed in a row")
    if "\ufeff" in line:
        raise ValidationFailed(f"row {number}: holds a byte-order mark (U+FEFF) inside the "
                               "file (two files joined?); only the file's start may have one")
    if "\x00" in line:
        raise ValidationFailed(f"row {number}: contains a NUL character (U+0000), which text "
                               "may not hold")
    return line


def _lines(raw_lines: Iterable[bytes], counter: _Counter, first: int = 1) -> Iterator[str]:
    """Decoded lines for the csv module, counting bytes for the progress bar."""
    for number, raw in enumerate(raw_lines, start=first):
        counter.done += len(raw)
        yield _line_text(number, raw)


def _header(reader: Iterator[list[str]], spec: ImportSpec) -> list[str]:
    """The file's column names in file order, refused unless they are exactly the spec's."""
    try:
        names = [n.strip().lower() for n in next(reader)]
    except StopIteration:
        raise ValidationFailed("header: the file is empty; a header row is required "
                               f"({','.join(spec.names)})") from None
    problems = [f"header: column {n!r} appears more than once"
                for n in sorted({n for n in names if names.count(n) > 1})]
    problems += [f"header: unexpected column {n!r} (allowed: {', '.join(spec.names)})"
                 for n in names if n not in spec.names]
    problems += [f"header: missing column {c.name!r}" for c in spec.columns
                 if c.required and c.name not in names]
    if problems:
        raise ValidationFailed(*problems)
    return names


_BLANK = object()  # a row of blank cells: it carries nothing and is skipped


@dataclass
class Batch:
    """A batch of good rows, column-wise: each column of the file as a list or a numpy array
    (Column.form), in file order."""

    values: dict[str, Any]
    size: int

    def rows(self) -> list[dict[str, Any]]:
        """The rows as dicts of the exact parser's values (instants as aware datetimes)."""
        columns = {name: ([None if v is None else _moment(v) for v in column.tolist()]
                          if name in _INSTANT_NAMES else
                          column.tolist() if isinstance(column, np.ndarray) else column)
                   for name, column in self.values.items()}
        return [dict(zip(columns, row)) for row in zip(*columns.values())]


_INSTANT_NAMES = {c.name for spec in SPECS.values() for c in spec.columns if c.form == "micros"}


def _moment(value: int) -> datetime:
    return rollup.EPOCH + timedelta(microseconds=value)


def _key_shown(value: Any, instant: bool) -> Any:
    if instant:
        return _moment(value).isoformat()
    return value.isoformat() if isinstance(value, (date, datetime)) else value


@dataclass
class _Checker:
    """Checks groups of rows column-wise, remembering keys already seen and collecting the bad
    rows. A cell no screen proves good is parsed exactly (the same rules and messages as ever),
    and so is every cell of a row that has any such cell."""

    spec: ImportSpec
    names: list[str]
    now: datetime
    seen: dict[Any, int] = field(default_factory=dict)
    bad: list[BadRow] = field(default_factory=list)
    bad_count: int = 0

    def __post_init__(self) -> None:
        by_name = {c.name: c for c in self.spec.columns}
        self.columns = [by_name[n] for n in self.names]

    def exact(self, cells: list[str]) -> Any:
        """One row parsed cell by cell: _BLANK, or (row or None, problems)."""
        problems: list[tuple[str, str]] = []
        if not any(c.strip() for c in cells):
            return _BLANK  # blank lines carry nothing
        if [c.strip().lower() for c in cells] == self.names:
            return None, [("*", "repeats the header row (two files joined?)")]
        if len(cells) != len(self.names):
            return None, [("*", f"has {len(cells)} fields, the header has {len(self.names)}")]
        row: dict[str, Any] = {}
        for column, raw in zip(self.columns, cells):
            raw = raw.strip()
            if not raw:
                if column.required:
                    problems.append((column.name, "missing value"))
                row[column.name] = None
                continue
            try:
                row[column.name] = column.parse(raw, self.now)
            except ValueError as exc:
                problems.append((column.name, str(exc)))
        return row, problems

    def check(self, lines: np.ndarray, cells: list[pa.Array],
              odd: Sequence[tuple[int, list[str]]] = ()) -> Batch | None:
        """The good rows of a group: rows of the header's width, column-wise, with their line
        numbers (ascending), and `odd` rows of another width (line, cells). None once any row
        of the file is bad: the caller writes no more, and the rejection lists them all."""
        size = len(lines)
        plain = np.ones(size, dtype=bool)
        values: dict[str, Any] = {}
        for column, column_cells in zip(self.columns, cells):
            screened = column.screen(column_cells, self.now) if column.screen else None
            if screened is None:
                plain[:] = False
                values[column.name] = [None] * size
                continue
            plain &= screened.good
            values[column.name] = (screened.values.tolist() if column.form == "list"
                                   and isinstance(screened.values, np.ndarray)
                                   else screened.values)
        parsed, keep = plain.copy(), plain.copy()  # parsed: cells read (so the key counts)
        missing_key = np.zeros(size, dtype=bool)
        bad: list[tuple[int, list[tuple[str, str]]]] = []  # (line, problems)
        problems: dict[int, list[tuple[str, str]]] = {}
        exact = np.flatnonzero(~plain).tolist()
        if exact:  # Arrow's arrays are read-only: the exact parser's values go into copies
            values = {name: column.copy() if isinstance(column, np.ndarray) else column
                      for name, column in values.items()}
        whole = [c.to_pylist() for c in cells] if len(exact) > size // 8 else None
        for index in exact:
            row_cells = ([c[index] for c in whole] if whole is not None
                         else [c[index].as_py() for c in cells])
            result = self.exact(row_cells)
            if result is _BLANK:
                continue
            row, found = result
            if row is None:
                bad.append((int(lines[index]), found))
                continue
            parsed[index], keep[index] = True, not found
            for column in self.columns:
                value = row.get(column.name)
                if column.form == "micros" and value is not None:
                    value = cols.micros(value)
                values[column.name][index] = 0 if value is None and column.form != "list" \
                    else value
            missing_key[index] = row.get(self.spec.key) is None
            if found:
                problems[index] = found
        for line, row_cells in odd:
            result = self.exact(row_cells)
            if result is not _BLANK:
                bad.append((line, result[1]))
        if self.spec.key in self.names:
            self._check_keys(lines, values[self.spec.key], parsed & ~missing_key, keep, problems)
        bad += [(int(lines[index]), found) for index, found in problems.items()]
        for line, found in sorted(bad, key=lambda entry: entry[0]):
            self._reject(line, found)
        if self.bad_count:
            return None
        if not keep.all():
            values = {name: (column[keep] if isinstance(column, np.ndarray)
                             else list(itertools.compress(column, keep.tolist())))
                      for name, column in values.items()}
        return Batch(values, int(keep.sum()))

    def _check_keys(self, lines: np.ndarray, keys: Any, counted: np.ndarray, keep: np.ndarray,
                    problems: dict[int, list[tuple[str, str]]]) -> None:
        """Each key once in the file: a later row names the first (in line order). Rows whose
        key cell is empty or bad, blank rows and refused rows count for nothing here."""
        key = self.spec.key
        instant = next(c for c in self.columns if c.name == key).form == "micros"
        keys = keys.tolist() if isinstance(keys, np.ndarray) else keys
        seen = self.seen
        for index in np.flatnonzero(counted).tolist():
            value = keys[index]
            first = seen.get(value)
            if first is None:
                seen[value] = int(lines[index])
            else:
                keep[index] = False
                problems.setdefault(index, []).append(
                    (key, f"{_key_shown(value, instant)} appears again (first on row {first})"))

    def _reject(self, line: int, problems: list[tuple[str, str]]) -> None:
        self.bad_count += 1
        if len(self.bad) < MAX_REPORTED:
            self.bad.append(BadRow(line, tuple(problems)))


def _exact_groups(checker: _Checker, lines: Iterable[str], first_line: int, batch_size: int
                  ) -> Iterator[Batch | None]:
    """Rows read by the csv module (quoted cells, blank or ragged lines), `batch_size` at a time,
    checked column-wise all the same."""
    reader = csv.reader(lines)
    width = len(checker.names)
    try:
        while True:
            numbers: list[int] = []
            rows: list[list[str]] = []
            odd: list[tuple[int, list[str]]] = []
            for cells in itertools.islice(reader, batch_size):
                number = reader.line_num + first_line - 1
                if len(cells) == width:
                    numbers.append(number)
                    rows.append(cells)
                else:
                    odd.append((number, cells))
            if not rows and not odd:
                return
            columns = [pa.array(column, pa.string()) for column in zip(*rows)] if rows else [
                pa.array([], pa.string()) for _ in range(width)]
            yield checker.check(np.array(numbers, dtype=np.int64), columns, odd)
    except csv.Error as exc:
        raise ValidationFailed(f"row {reader.line_num + first_line - 1}: not valid CSV ({exc})") \
            from None


def _groups(handle: IO[bytes], spec: ImportSpec, batch_size: int, progress: Progress | None,
            size: int, now: datetime, found: list[_Checker]) -> Iterator[Batch | None]:
    """The file's rows, checked, a batch at a time: a Batch of good rows while no row is bad,
    then None for each group (reading on to report every bad row).

    Plain chunks of lines (no quotes, nothing odd) are split by Arrow; a chunk with a quote
    switches to the csv module for the rest of the file (a quoted cell may hold a line break, so
    lines are no longer rows), and any other odd chunk is read by it alone."""
    first = handle.readline()
    counter = _Counter(len(first))
    if not first or b'"' in first:  # a quoted header: the whole file line by line
        handle.seek(0)
        counter.done = 0
        lines = _lines(handle, counter)
        reader = csv.reader(lines)
        try:
            names = _header(reader, spec)
        except csv.Error as exc:
            raise ValidationFailed(f"row {reader.line_num}: not valid CSV ({exc})") from None
        checker = _Checker(spec, names, now)
        found.append(checker)
        yield from _report(_exact_groups(checker, lines, 2, batch_size), counter, progress, size)
        return
    checker = _Checker(spec, _header(iter(csv.reader([_line_text(1, first)])), spec), now)
    found.append(checker)
    chunks = cols.Chunks(handle, batch_size, 2, len(first))
    width = len(checker.names)
    for first_line, chunk, full in chunks:
        split = cols.split_plain(chunk, width)
        if split is not None:
            lines = np.arange(first_line, first_line + len(split[0]), dtype=np.int64)
            yield checker.check(lines, split)
        elif b'"' in chunk:
            chunks.unread(chunk, first_line)
            counter.done = chunks.done
            rest = _lines(chunks.rest(), counter, first_line)
            yield from _report(_exact_groups(checker, rest, first_line, batch_size), counter,
                               progress, size)
            return
        else:
            local = _Counter()
            yield from _exact_groups(checker, _lines(cols.raw_lines(chunk), local, first_line),
                                     first_line, batch_size)
        if full and progress is not None and chunks.done < size:
            progress(chunks.done, size)


def _report(groups: Iterator[Batch | None], counter: _Counter, progress: Progress | None,
            size: int) -> Iterator[Batch | None]:
    for group in groups:
        yield group
        if progress is not None and counter.done < size:
            progress(counter.done, size)


def _batches(handle: IO[bytes], path: Path, spec: ImportSpec, batch_size: int,
             progress: Progress | None, size: int, now: datetime) -> Iterator[Batch]:
    """The file's good rows in batches, while no row is bad; after the first bad row it reads
    on (to report every bad row) and raises ImportRejected at the end."""
    found: list[_Checker] = []
    try:
        for batch in _groups(handle, spec, batch_size, progress, size, now, found):
            if batch is not None and batch.size:
                yield batch
    except OSError as exc:  # the disk or the network share failed mid-file
        raise ValidationFailed(f"file: {path} cannot be read ({exc.strerror or exc})") from None
    [checker] = found
    if checker.bad_count:
        raise ImportRejected(spec.table.name, checker.bad, checker.bad_count)
    if progress is not None:
        progress(size, size)


def _record(session: so.Session, table: str, rows: int, path: Path) -> None:
    record_activity(session, "platform_data_imported",
                    f"Imported {rows} rows into {table} from {path.name}",
                    {"table": table, "rows": rows, "file": path.name})


def import_csv(db: Database, kind: str, path: str | Path, progress: Progress | None = None,
               *, batch_size: int = BATCH_SIZE, now: datetime | None = None) -> ImportResult:
    """Load `path` into the table for `kind` (tokens, engagement, treasury): all rows or none.
    Dates after `now` (default: this moment) are refused, give or take a day of clock skew."""
    now = now or utcnow()
    spec, path = _spec(kind), Path(path)
    if path.is_dir():
        raise ValidationFailed(f"file: {path} is a directory, not a CSV file")
    if not path.exists():
        raise NotFound(f"file: {path} does not exist")
    try:
        handle = path.open("rb")
    except OSError as error:  # no permission, a dangling link, a special file
        raise ValidationFailed(f"file: {path} cannot be read ({error.strerror or error})") from None
    size = path.stat().st_size
    with handle:
        if spec.table.name == "tokens" and db.dialect == "sqlite":
            rows = _import_tokens_staged(db, spec, handle, path, progress, batch_size, size, now)
            return ImportResult(spec.table.name, rows)
        rows = 0
        with writing(db) as session, contextlib.ExitStack() as stack:
            tokens = (stack.enter_context(_TokenWriter(session)) if spec.table.name == "tokens"
                      else None)
            for batch in _batches(handle, path, spec, batch_size, progress, size, now):
                if tokens is not None:
                    tokens.write(batch)
                elif spec.write is not None:
                    spec.write(session, batch.rows())
                rows += batch.size
            if tokens is not None:
                tokens.finish()
            _record(session, spec.table.name, rows, path)
    return ImportResult(spec.table.name, rows)


# --- SQLite: stage, then publish in one short transaction ----------------------------------------
# SQLite has one writer at a time. Reading, checking and staging a file of millions of rows
# takes minutes; holding the write lock for all of it made every other write (a sign-in, an
# approval) wait and fail. So the rows go first into a TEMP table, private to this connection
# and outside the database file, under no write lock; then one transaction copies them into
# `tokens` with the roll-up's changes (seconds for millions of rows). Nothing is visible, and
# nothing is written to the database, unless that last transaction commits.

_STAGE = "import_tokens_staging"
_PUBLISH_CACHE_KIB = -1024 * 1024  # negative: KiB (1 GiB at most), not pages
_STAGE_COLUMNS = "id, symbol, name, price, volume_24h, created_at"


def _import_tokens_staged(db: Database, spec: ImportSpec, handle: IO[bytes], path: Path,
                          progress: Progress | None, batch_size: int, size: int,
                          now: datetime) -> int:
    changes, sums, rows = rollup.Changes(), cols.MinuteSums(), 0
    with database_failures(writing=True), db.engine.connect() as connection:
        connection.execution_options(**{READ_ONLY: True})  # a plain BEGIN: no write lock
        driver = connection.connection.driver_connection  # PRAGMAs outside any transaction
        cache = driver.execute("PRAGMA cache_size").fetchone()[0]
        try:
            # New rows land all over the index on created_at: with SQLite's default 2 MB page
            # cache each one read and wrote back index pages, and publishing a million rows took
            # half a minute. Pages are allocated only as used; the pooled connection gets its
            # default back below.
            driver.execute(f"PRAGMA cache_size = {_PUBLISH_CACHE_KIB}")
            with connection.begin():
                connection.exec_driver_sql(
                    f"CREATE TEMP TABLE {_STAGE} (seq INTEGER PRIMARY KEY, id INTEGER, "
                    "symbol TEXT, name TEXT, price REAL, volume_24h REAL, created_at TEXT)")
            for batch in _batches(handle, path, spec, batch_size, progress, size, now):
                values = batch.values
                ids = values.get("id") or itertools.repeat(None)
                with connection.begin():
                    connection.exec_driver_sql(
                        f"INSERT INTO temp.{_STAGE} ({_STAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                        list(zip(ids, values["symbol"], values["name"], values["price"].tolist(),
                                 values["volume_24h"].tolist(),
                                 cols.sqlite_times(values["created_at"]))))
                _count_tokens(changes, sums, batch)
                rows += batch.size
            connection.execution_options(**{READ_ONLY: False})  # BEGIN IMMEDIATE from here
            with so.Session(bind=connection) as session, session.begin():
                _publish(session, changes, sums)
                _record(session, spec.table.name, rows, path)
        finally:
            driver.execute(f"PRAGMA cache_size = {int(cache)}")
            connection.execution_options(**{READ_ONLY: True})
            with connection.begin():
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{_STAGE}")
    return rows


def _publish(session: so.Session, changes: rollup.Changes, sums: cols.MinuteSums) -> None:
    replaced = sa.text(f"SELECT t.created_at, t.price, t.volume_24h FROM tokens t JOIN "
                       f"temp.{_STAGE} s ON s.id = t.id").columns(
        sa.column("created_at", Token.created_at.type), sa.column("price", sa.Double()),
        sa.column("volume_24h", sa.Double()))
    changes.remove(session.execute(replaced))
    updated = ", ".join(f"{c} = excluded.{c}" for c in bulk.TOKEN_COLUMNS)
    # Rows with an id first (updates, or inserts keeping that id), then the new rows, which
    # take ids above them.
    session.execute(sa.text(
        f"INSERT INTO tokens ({_STAGE_COLUMNS}) SELECT {_STAGE_COLUMNS} FROM temp.{_STAGE} "
        f"WHERE id IS NOT NULL ORDER BY seq ON CONFLICT (id) DO UPDATE SET {updated}"))
    columns = ", ".join(bulk.TOKEN_COLUMNS)
    session.execute(sa.text(
        f"INSERT INTO tokens ({columns}) SELECT {columns} FROM temp.{_STAGE} "
        "WHERE id IS NULL ORDER BY seq"))
    changes.apply(session)
    sums.write(session)
