"""Loading platform data from CSV: tokens, daily engagement, DAO treasury snapshots.

Strict and all-or-nothing: every row is checked (types, required values, negatives, dates,
duplicate keys within the file) and the whole file is written in one transaction, so one bad
row means nothing is written and the caller gets a report of the bad rows. Large files stream:
rows go to the database in batches while the file is read, and the transaction only commits
at the end. Re-importing an engagement day or a treasury instant updates it (an upsert); a token
row with an `id` updates that token, one without gets a new id.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.base.errors import NotFound, ValidationFailed
from core.base.parsing import (MAX_CSV_LINE_CHARS, MAX_DAILY_COUNT, MAX_TOKEN_PRICE_USD,
                               MAX_TOKEN_VOLUME_USD, MAX_TREASURY_BALANCE_USD, TEXT_LIMITS,
                               parse_date, parse_instant, parse_whole, shown, text_problem,
                               to_decimal)
from core.base.sessions import database_failures, writing
from core.platform_data import rollup
from core.record.activity import record_activity
from db import bulk
from db.engine import READ_ONLY, Database
from db.models import EngagementDaily, Token, TreasurySnapshot
from db.types import utcnow

BATCH_SIZE = 5000
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
            reason = f"{shown(raw, quote=False)} is above the maximum {maximum:,}"
        elif places is not None and ("has more than" in reason or reason.endswith("is not a number")):
            reason = f"{shown(raw)} is not an amount with at most {places} decimal places"
        raise ValueError(reason) from None
    if value < 0:
        raise ValueError(f"{raw} is negative")
    if value > maximum:
        raise ValueError(f"{shown(raw, quote=False)} is above the maximum {maximum:,}")
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

@dataclass(frozen=True)
class Column:
    name: str
    parse: Parser
    required: bool = True


@dataclass(frozen=True)
class ImportSpec:
    table: sa.Table
    columns: tuple[Column, ...]
    key: str | None  # unique within a file (and the upsert key)
    write: Callable[[so.Session, list[dict[str, Any]]], None]

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


def _figures(row: Any) -> rollup.TokenFigures:
    return row["created_at"], row["price"], row["volume_24h"]


def _new_token(row: dict[str, Any]) -> bulk.NewToken:
    return row["symbol"], row["name"], row["price"], row["volume_24h"], row["created_at"]


class _TokenWriter:
    """Tokens in one transaction: new rows through the engine's bulk path (COPY), rows with an
    `id` as upserts; the roll-up follows, written once at the end (core/platform_data/rollup.py)."""

    def __init__(self, session: so.Session) -> None:
        self.session, self.changes = session, rollup.Changes()
        rollup.lock_token_writes(session)

    def write(self, rows: list[dict[str, Any]]) -> None:
        session = self.session
        with_id = [r for r in rows if r.get("id") is not None]
        if with_id:
            # The rows an update replaces leave their buckets: read them (locked) first.
            old = (sa.select(Token.created_at, Token.price, Token.volume_24h)
                   .where(Token.id.in_([r["id"] for r in with_id])))
            if session.get_bind().dialect.name == "postgresql":
                old = old.with_for_update()
            self.changes.remove(session.execute(old))
            _upsert(Token.__table__, "id")(session, with_id)
            _advance_token_ids(session)
        new = [_new_token(r) for r in rows if r.get("id") is None]
        if new:
            bulk.insert_tokens(session.connection(), new)
        self.changes.add(map(_figures, rows))

    def finish(self) -> None:
        self.changes.apply(self.session)


def _advance_token_ids(session: so.Session) -> None:
    """Explicit ids do not move PostgreSQL's sequence; move it past them so new rows fit."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT setval(pg_get_serial_sequence('tokens', 'id'), "
                                "(SELECT max(id) FROM tokens)) WHERE EXISTS (SELECT 1 FROM tokens)"))


SPECS: dict[str, ImportSpec] = {
    "tokens": ImportSpec(Token.__table__, (
        Column("id", _whole(MAX_INT64), required=False), Column("symbol", _text("symbol")),
        Column("name", _text("name")), Column("price", _quantity(MAX_TOKEN_PRICE_USD)),
        Column("volume_24h", _quantity(MAX_TOKEN_VOLUME_USD)),
        Column("created_at", _instant)), key="id", write=lambda s, rows: _TokenWriter(s).write(rows)),
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


def _lines(handle: IO[bytes], counter: _Counter) -> Iterator[str]:
    """Decoded lines for the csv module, counting bytes for the progress bar."""
    for number, raw in enumerate(handle, start=1):
        counter.done += len(raw)
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
            raise ValidationFailed(f"row {number}: is {len(line):,} characters long; at most "
                                   f"{MAX_CSV_LINE_CHARS:,} are allowed in a row")
        if "\ufeff" in line:
            raise ValidationFailed(f"row {number}: holds a byte-order mark (U+FEFF) inside the "
                                   "file (two files joined?); only the file's start may have one")
        if "\x00" in line:
            raise ValidationFailed(f"row {number}: contains a NUL character (U+0000), which text "
                                   "may not hold")
        yield line


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


@dataclass
class _Checker:
    """Parses rows, remembering keys already seen and collecting the bad rows."""

    spec: ImportSpec
    names: list[str]
    now: datetime
    seen: dict[Any, int] = field(default_factory=dict)
    bad: list[BadRow] = field(default_factory=list)
    bad_count: int = 0

    def parse(self, line: int, cells: list[str]) -> dict[str, Any] | None:
        problems: list[tuple[str, str]] = []
        if [c.strip().lower() for c in cells] == self.names:
            problems.append(("*", "repeats the header row (two files joined?)"))
            return self._reject(line, problems)
        if len(cells) != len(self.names):
            problems.append(("*", f"has {len(cells)} fields, the header has {len(self.names)}"))
            return self._reject(line, problems)
        by_name = {c.name: c for c in self.spec.columns}
        row: dict[str, Any] = {}
        for name, raw in zip(self.names, cells):
            raw = raw.strip()
            if not raw:
                if by_name[name].required:
                    problems.append((name, "missing value"))
                row[name] = None
                continue
            try:
                row[name] = by_name[name].parse(raw, self.now)
            except ValueError as exc:
                problems.append((name, str(exc)))
        self._check_key(line, row, problems)
        return self._reject(line, problems) if problems else row

    def _check_key(self, line: int, row: dict[str, Any], problems: list[tuple[str, str]]) -> None:
        key = self.spec.key
        value = row.get(key) if key else None
        if value is None:
            return
        if value in self.seen:
            shown = value.isoformat() if isinstance(value, (date, datetime)) else value
            problems.append((key, f"{shown} appears again (first on row {self.seen[value]})"))
        else:
            self.seen[value] = line

    def _reject(self, line: int, problems: list[tuple[str, str]]) -> None:
        self.bad_count += 1
        if len(self.bad) < MAX_REPORTED:
            self.bad.append(BadRow(line, tuple(problems)))
        return None


def _batches(handle: IO[bytes], path: Path, spec: ImportSpec, batch_size: int,
             progress: Progress | None, size: int, now: datetime
             ) -> Iterator[list[dict[str, Any]]]:
    """The file's good rows in batches, while no row is bad; after the first bad row it reads
    on (to report every bad row) and raises ImportRejected at the end."""
    counter = _Counter()
    reader = csv.reader(_lines(handle, counter))
    batch: list[dict[str, Any]] = []
    try:
        checker = _Checker(spec, _header(reader, spec), now)
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue  # blank lines carry nothing
            row = checker.parse(reader.line_num, cells)
            if row is None or checker.bad_count:
                continue  # keep reading to report every bad row, but write no more
            batch.append(row)
            if len(batch) >= batch_size:
                yield batch
                batch = []
                if progress is not None:
                    progress(counter.done, size)
    except csv.Error as exc:
        raise ValidationFailed(f"row {reader.line_num}: not valid CSV ({exc})") from None
    except OSError as exc:  # the disk or the network share failed mid-file
        raise ValidationFailed(f"file: {path} cannot be read ({exc.strerror or exc})") from None
    if checker.bad_count:
        raise ImportRejected(spec.table.name, checker.bad, checker.bad_count)
    if batch:
        yield batch
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
        with writing(db) as session:
            tokens = _TokenWriter(session) if spec.table.name == "tokens" else None
            for batch in _batches(handle, path, spec, batch_size, progress, size, now):
                if tokens is not None:
                    tokens.write(batch)
                else:
                    spec.write(session, batch)
                rows += len(batch)
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
_STAGE_COLUMNS = "id, symbol, name, price, volume_24h, created_at"


def _import_tokens_staged(db: Database, spec: ImportSpec, handle: IO[bytes], path: Path,
                          progress: Progress | None, batch_size: int, size: int,
                          now: datetime) -> int:
    changes, rows = rollup.Changes(), 0
    with database_failures(writing=True), db.engine.connect() as connection:
        connection.execution_options(**{READ_ONLY: True})  # a plain BEGIN: no write lock
        try:
            with connection.begin():
                connection.exec_driver_sql(
                    f"CREATE TEMP TABLE {_STAGE} (seq INTEGER PRIMARY KEY, id INTEGER, "
                    "symbol TEXT, name TEXT, price REAL, volume_24h REAL, created_at TEXT)")
            for batch in _batches(handle, path, spec, batch_size, progress, size, now):
                with connection.begin():
                    connection.exec_driver_sql(
                        f"INSERT INTO temp.{_STAGE} ({_STAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                        [(r.get("id"), r["symbol"], r["name"], r["price"], r["volume_24h"],
                          bulk.sqlite_time(r["created_at"])) for r in batch])
                changes.add(map(_figures, batch))
                rows += len(batch)
            connection.execution_options(**{READ_ONLY: False})  # BEGIN IMMEDIATE from here
            with so.Session(bind=connection) as session, session.begin():
                _publish(session, changes)
                _record(session, spec.table.name, rows, path)
        finally:
            connection.execution_options(**{READ_ONLY: True})
            with connection.begin():
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{_STAGE}")
    return rows


def _publish(session: so.Session, changes: rollup.Changes) -> None:
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
