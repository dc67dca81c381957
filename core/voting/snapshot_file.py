"""A holders snapshot read from the CSV a platform exports (`address,balance[,delegate]`), all
rows or none, and Snapshot's delegation rule.

The file: UTF-8 (a byte-order mark only at the start), LF or CRLF line ends, the header once,
then one holder a row. Every row is checked and every bad row is reported with its line (the
header is line 1), up to MAX_REPORTED of them; one bad row and the whole file is refused. The
line-level rules are core.platform_data.csv_import's (same messages), so a platform that can
import its data can export a snapshot.

Balances are exact decimals in the token's units (`1234.5` tokens): at most BALANCE_PLACES
decimal places (ERC-20's usual 18 decimals: a balance finer than the token's smallest unit is
not a balance) and at most MAX_BALANCE. Internally a weight is a whole number of base units
(balance x 10^BALANCE_PLACES), so sums over millions of holders are exact integers, never
rounded by Decimal's 28-digit default context; they become Decimals again at the edge.

Delegation (Snapshot's rule, and ERC20Votes' one level): a holder may name a delegate; the
holder's weight goes to the delegate unless the holder votes themselves, in which case the holder
takes it back. Delegation does not chain: weight delegated to someone who delegated in turn
counts only when that someone votes (neither Snapshot's delegation strategy nor OpenZeppelin's
ERC20Votes passes delegated weight on).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from core.base.errors import ValidationFailed
from core.base.formatting import count
from core.base.parsing import MAX_CSV_LINE_CHARS, MAX_NUMBER_TEXT, shown, to_decimal
from core.voting.addresses import address_problem, normalise

COLUMNS = ("address", "balance", "delegate")
REQUIRED_COLUMNS = ("address", "balance")
BALANCE_PLACES = 18
# A trillion tokens a trillion times over: beyond it is a wrong column, not a holder.
MAX_BALANCE = Decimal(10) ** 24
MAX_HOLDERS = 10_000_000  # the snapshot is held in memory while it is checked
MAX_REPORTED = 20  # bad rows named in the refusal; the count says how many more
UNIT = 10 ** BALANCE_PLACES
T = TypeVar("T")
MAX_UNITS = int(MAX_BALANCE) * UNIT
# Digits, and at most BALANCE_PLACES of them after a point: a subset of what
# core.base.parsing.to_decimal reads, read the same way; anything else goes through it.
_PLAIN_BALANCE = re.compile(rf"([0-9]{{1,{MAX_NUMBER_TEXT}}})(?:\.([0-9]{{1,{BALANCE_PLACES}}}))?",
                            re.ASCII)


@dataclass(frozen=True, slots=True)
class Holder:
    address: str  # checksummed
    units: int  # the balance in base units (balance x 10^BALANCE_PLACES)
    delegate: str | None = None

    @property
    def balance(self) -> Decimal:
        return units_to_decimal(self.units)


@dataclass(frozen=True)
class Snapshot:
    """Holders in file order; `weights` and `delegates` by address; `total` their sum."""

    holders: tuple[Holder, ...]
    total_units: int

    @property
    def total(self) -> Decimal:
        return units_to_decimal(self.total_units)

    @property
    def weights(self) -> dict[str, Decimal]:
        return {h.address: h.balance for h in self.holders}

    @property
    def weight_units(self) -> dict[str, int]:
        return {h.address: h.units for h in self.holders}

    @property
    def delegates(self) -> dict[str, str]:
        return {h.address: h.delegate for h in self.holders if h.delegate}


class SnapshotRejected(ValidationFailed):
    """Bad rows in a snapshot file; nothing was read. Carries the first bad rows and the count."""

    def __init__(self, problems: list[str], total_bad: int) -> None:
        self.total_bad = total_bad
        lines = list(problems)
        if total_bad > len(problems):
            lines.append(f"... and {total_bad - len(problems)} more bad rows ({total_bad} in all); "
                         "nothing was read from the snapshot file")
        super().__init__(*lines)


# --- exact amounts -----------------------------------------------------------------------------

def to_units(balance: Decimal) -> int:
    """A balance with at most BALANCE_PLACES places as whole base units, exactly (integer
    arithmetic: Decimal.scaleb would round to the context's 28 digits)."""
    _, digits, exponent = balance.as_tuple()  # the sign: a balance is 0 or more ("-0" is 0)
    assert isinstance(exponent, int)
    number = int("".join(map(str, digits)) or "0")
    shift = exponent + BALANCE_PLACES
    return number * 10 ** shift if shift >= 0 else number // 10 ** -shift


def units_to_decimal(units: int) -> Decimal:
    """Base units as an exact Decimal without trailing zeros (`1500000000000000000` -> `1.5`).
    Built from text, which Decimal reads exactly whatever its length."""
    whole, fraction = divmod(units, UNIT)
    fraction_text = str(fraction).rjust(BALANCE_PLACES, "0").rstrip("0")
    return Decimal(f"{whole}.{fraction_text}" if fraction_text else str(whole))


def parse_balance(raw: str) -> int:
    """A balance cell as base units, or ValueError with the reason (the column is named by the
    caller)."""
    plain = _PLAIN_BALANCE.fullmatch(raw)
    if plain:  # how exports write nearly every balance: read as integers, no Decimal needed
        whole, fraction = plain.group(1), plain.group(2) or ""
        units = int(whole) * UNIT + int(fraction.ljust(BALANCE_PLACES, "0"))
        if units <= MAX_UNITS:
            return units
    try:
        value = to_decimal(raw, "balance", places=BALANCE_PLACES)
    except ValueError as error:
        reason = str(error).removeprefix("balance: ")
        if reason.endswith("is too large"):
            reason = f"{shown(raw, quote=False)} is above the maximum {count(MAX_BALANCE)}"
        raise ValueError(reason) from None
    if value < 0:
        raise ValueError(f"{shown(raw, quote=False)} is negative; a balance is 0 or more")
    if value > MAX_BALANCE:
        raise ValueError(f"{shown(raw, quote=False)} is above the maximum {count(MAX_BALANCE)}")
    return to_units(value)


# --- reading -----------------------------------------------------------------------------------

def _lines(handle: Iterable[bytes]) -> Iterator[str]:
    """Decoded lines for the csv module, with core.platform_data.csv_import's line rules: the
    whole file is refused at once for these (it is not a snapshot file, or two files joined)."""
    for number, raw in enumerate(handle, start=1):
        try:
            # A byte-order mark opening the file is what spreadsheets write: it is skipped.
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise ValidationFailed(f"line {number}: is not UTF-8 text") from None
        if "\r" in line.rstrip("\r\n"):
            raise ValidationFailed(
                f"line {number}: has a carriage return inside the line; lines must end with LF "
                "or CRLF")
        if len(line) > MAX_CSV_LINE_CHARS:
            raise ValidationFailed(f"line {number}: is {count(len(line))} characters long; at "
                                   f"most {count(MAX_CSV_LINE_CHARS)} are allowed in a row")
        if "\ufeff" in line:
            raise ValidationFailed(f"line {number}: holds a byte-order mark (U+FEFF) inside the "
                                   "file (two files joined?); only the file's start may have one")
        if "\x00" in line:
            raise ValidationFailed(f"line {number}: contains a NUL character (U+0000)")
        yield line


def _header(reader: Iterator[list[str]]) -> list[str]:
    try:
        names = [n.strip().lower() for n in next(reader)]
    except StopIteration:
        raise ValidationFailed("header: the file is empty; a header row is required "
                               f"({','.join(COLUMNS)})") from None
    problems = [f"header: column {n!r} appears more than once"
                for n in sorted({n for n in names if names.count(n) > 1})]
    problems += [f"header: unexpected column {n!r} (allowed: {', '.join(COLUMNS)})"
                 for n in names if n not in COLUMNS]
    problems += [f"header: missing column {c!r}" for c in REQUIRED_COLUMNS if c not in names]
    if problems:
        raise ValidationFailed(*problems)
    return names


def _address_cell(raw: str) -> str:
    problem = address_problem(raw)
    if problem:
        raise ValueError(problem)
    return normalise(raw)


class _Reader:
    """Checks rows one by one, remembering addresses already seen and collecting bad rows."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.address_at = names.index("address")
        self.balance_at = names.index("balance")
        self.delegate_at = names.index("delegate") if "delegate" in names else None
        self.seen: dict[str, int] = {}  # address -> its line
        self.holders: list[Holder] = []
        self.total_units = 0
        self.bad: list[str] = []
        self.bad_count = 0

    def row(self, line: int, cells: list[str]) -> None:
        if [c.strip().lower() for c in cells] == self.names:
            return self._reject(line, ["repeats the header row (two files joined?)"])
        if len(cells) != len(self.names):
            return self._reject(line, [f"has {len(cells)} fields, the header has {len(self.names)}"])
        problems: list[str] = []
        address = self._cell(cells[self.address_at].strip(), "address", _address_cell, problems)
        units = self._cell(cells[self.balance_at].strip(), "balance", parse_balance, problems)
        delegate = None
        if self.delegate_at is not None and cells[self.delegate_at].strip():
            delegate = self._cell(cells[self.delegate_at].strip(), "delegate", _address_cell, problems)
            if delegate is not None and delegate == address:
                problems.append("delegate: is the holder itself; leave it empty to keep the weight")
                delegate = None
        if address is not None:
            if address in self.seen:
                problems.append(f"address: {address} appears again (first on line {self.seen[address]})")
            else:
                self.seen[address] = line
        if problems:
            return self._reject(line, problems)
        if self.bad_count:
            return None  # the file is refused already: keep checking, stop collecting
        if len(self.holders) >= MAX_HOLDERS:
            raise ValidationFailed(f"line {line}: the snapshot has more than {count(MAX_HOLDERS)} "
                                   "holders, the most one snapshot may hold")
        assert address is not None and units is not None
        self.holders.append(Holder(address, units, delegate))
        self.total_units += units
        return None

    @staticmethod
    def _cell(raw: str, column: str, parse: Callable[[str], T], problems: list[str]) -> T | None:
        if not raw:
            problems.append(f"{column}: missing value")
            return None
        try:
            return parse(raw)
        except ValueError as error:
            problems.append(f"{column}: {error}")
            return None

    def _reject(self, line: int, problems: list[str]) -> None:
        self.bad_count += 1
        if len(self.bad) < MAX_REPORTED:
            self.bad.append(f"line {line}, " + "; ".join(problems))


def read_snapshot(handle: Iterable[bytes]) -> Snapshot:
    """The snapshot in `handle` (lines of bytes: an open binary file, or `text.encode()
    .splitlines(keepends=True)`), or ValidationFailed naming every bad line."""
    reader = csv.reader(_lines(handle))
    try:
        checker = _Reader(_header(reader))
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue  # blank lines carry nothing
            checker.row(reader.line_num, cells)
    except csv.Error as error:
        raise ValidationFailed(f"line {reader.line_num}: not valid CSV ({error})") from None
    if checker.bad_count:
        raise SnapshotRejected(checker.bad, checker.bad_count)
    if not checker.holders:
        raise ValidationFailed("file: the snapshot has no holders; at least one row is required")
    if checker.total_units == 0:
        raise ValidationFailed("file: every balance is 0; a snapshot needs some weight to vote with")
    return Snapshot(tuple(checker.holders), checker.total_units)


def load_snapshot(path: str | Path) -> Snapshot:
    """`read_snapshot` of a file by its path; a file that cannot be read is named."""
    try:
        with open(path, "rb") as handle:
            return read_snapshot(handle)
    except OSError as error:
        raise ValidationFailed(f"file: {path} cannot be read ({error.strerror or error})") from None


def snapshot_from_text(text: str) -> Snapshot:
    return read_snapshot(text.encode("utf-8").splitlines(keepends=True))


# --- delegation --------------------------------------------------------------------------------

def effective_weights(balances: Mapping[str, Decimal | int], delegates: Mapping[str, str],
                      voters: Collection[str]) -> dict[str, Decimal | int]:
    """Each voter's weight under Snapshot's delegation rule: their own balance, plus the balances
    of holders who delegated to them and did not vote themselves. A holder who votes keeps their
    own weight whatever they delegated; one level only (see the module's note).

    Works on Decimals or on base units alike (the result is of the balances' kind); voters with
    no balance and nobody delegating to them get 0."""
    voting = set(voters)
    weights: dict[str, Decimal | int] = {v: balances.get(v, 0) for v in voting}
    for holder, delegate in delegates.items():
        if delegate in voting and holder not in voting and holder != delegate:
            weights[delegate] = weights[delegate] + balances.get(holder, 0)
    return weights
