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
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql, sqlite

from core.activity import record_activity
from core.errors import NotFound, ValidationFailed
from core.sessions import writing
from core.split import to_decimal
from db.engine import Database
from db.models import EngagementDaily, Token, TreasurySnapshot

BATCH_SIZE = 5000
MAX_REPORTED = 20
MAX_INT32 = 2**31 - 1
MAX_INT64 = 2**63 - 1
MAX_BALANCE = Decimal(10) ** 22  # ExactDecimal(24, 2): 22 digits before the point

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

def _text(max_length: int) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if len(raw) > max_length:
            raise ValueError(f"is longer than {max_length} characters")
        return raw
    return parse


def _whole(limit: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw, 10)
        except ValueError:
            raise ValueError(f"{raw!r} is not a whole number") from None
        if value < 0:
            raise ValueError(f"{raw} is negative")
        if value > limit:
            raise ValueError(f"{raw} is too large (at most {limit})")
        return value
    return parse


def _quantity(raw: str) -> float:
    """A market figure (price, volume): a finite number, not negative."""
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{raw} is not a finite number")
    if value < 0:
        raise ValueError(f"{raw} is negative")
    return value


def _money(raw: str) -> Decimal:
    try:
        value = to_decimal(raw, "amount", places=2)
    except ValueError:
        raise ValueError(f"{raw!r} is not an amount with at most 2 decimal places") from None
    if value < 0:
        raise ValueError(f"{raw} is negative")
    if value >= MAX_BALANCE:
        raise ValueError(f"{raw} is too large")
    return value.quantize(Decimal("0.01"))  # "1e3" is stored as 1000.00, not as "1E+3"


def _day(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not an ISO 8601 date (YYYY-MM-DD)") from None


def _instant(raw: str) -> datetime:
    """ISO 8601 date-time; without an offset it is taken as UTC."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not an ISO 8601 date-time") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- what each kind of file holds and how it is written ----------------------------------------

@dataclass(frozen=True)
class Column:
    name: str
    parse: Callable[[str], Any]
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
        dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
        statement = dialect.insert(table)
        columns = [c for c in rows[0] if c != key]
        statement = statement.on_conflict_do_update(
            index_elements=[key], set_={c: statement.excluded[c] for c in columns})
        session.execute(statement, rows)
    return write


def _write_tokens(session: so.Session, rows: list[dict[str, Any]]) -> None:
    table = Token.__table__
    with_id = [r for r in rows if r.get("id") is not None]
    without_id = [{k: v for k, v in r.items() if k != "id"} for r in rows if r.get("id") is None]
    if without_id:
        session.execute(sa.insert(table), without_id)
    if with_id:
        _upsert(table, "id")(session, with_id)


def _advance_token_ids(session: so.Session) -> None:
    """Explicit ids do not move PostgreSQL's sequence; move it past them so new rows fit."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT setval(pg_get_serial_sequence('tokens', 'id'), "
                                "(SELECT max(id) FROM tokens)) WHERE EXISTS (SELECT 1 FROM tokens)"))


SPECS: dict[str, ImportSpec] = {
    "tokens": ImportSpec(Token.__table__, (
        Column("id", _whole(MAX_INT64), required=False), Column("symbol", _text(32)),
        Column("name", _text(200)), Column("price", _quantity), Column("volume_24h", _quantity),
        Column("created_at", _instant)), key="id", write=_write_tokens),
    "engagement": ImportSpec(EngagementDaily.__table__, (
        Column("day", _day), Column("wallet_connections", _whole(MAX_INT32)),
        Column("trades_count", _whole(MAX_INT32)), Column("page_views", _whole(MAX_INT32))),
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
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise ValidationFailed(f"row {number}: is not UTF-8 text") from None


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
    seen: dict[Any, int] = field(default_factory=dict)
    bad: list[BadRow] = field(default_factory=list)
    bad_count: int = 0

    def parse(self, line: int, cells: list[str]) -> dict[str, Any] | None:
        problems: list[tuple[str, str]] = []
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
                row[name] = by_name[name].parse(raw)
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


def import_csv(db: Database, kind: str, path: str | Path, progress: Progress | None = None,
               *, batch_size: int = BATCH_SIZE) -> ImportResult:
    """Load `path` into the table for `kind` (tokens, engagement, treasury): all rows or none."""
    spec, path = _spec(kind), Path(path)
    if path.is_dir():
        raise ValidationFailed(f"file: {path} is a directory, not a CSV file")
    if not path.exists():
        raise NotFound(f"file: {path} does not exist")
    try:
        handle = path.open("rb")
    except OSError as error:  # no permission, a dangling link, a special file
        raise ValidationFailed(f"file: {path} cannot be read ({error.strerror or error})") from None
    size, counter, rows = path.stat().st_size, _Counter(), 0
    with handle, writing(db) as session:
        reader = csv.reader(_lines(handle, counter))
        checker = _Checker(spec, _header(reader, spec))
        batch: list[dict[str, Any]] = []
        try:
            for cells in reader:
                if not any(c.strip() for c in cells):
                    continue  # blank lines carry nothing
                row = checker.parse(reader.line_num, cells)
                if row is None or checker.bad_count:
                    continue  # keep reading to report every bad row, but write no more
                batch.append(row)
                rows += 1
                if len(batch) >= batch_size:
                    _flush(session, spec, batch, progress, counter.done, size)
        except csv.Error as exc:
            raise ValidationFailed(f"row {reader.line_num}: not valid CSV ({exc})") from None
        except OSError as exc:  # the disk or the network share failed mid-file
            raise ValidationFailed(f"file: {path} cannot be read ({exc.strerror or exc})") from None
        if checker.bad_count:
            raise ImportRejected(spec.table.name, checker.bad, checker.bad_count)
        _flush(session, spec, batch, progress, size, size)
        if spec.table.name == "tokens":
            _advance_token_ids(session)
        record_activity(session, "platform_data_imported",
                        f"Imported {rows} rows into {spec.table.name} from {path.name}",
                        {"table": spec.table.name, "rows": rows, "file": path.name})
    return ImportResult(spec.table.name, rows)


def _flush(session: so.Session, spec: ImportSpec, batch: list[dict[str, Any]],
           progress: Progress | None, done: int, size: int) -> None:
    if batch:
        spec.write(session, batch)
        batch.clear()
    if progress is not None:
        progress(done, size)
