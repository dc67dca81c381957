"""A holders snapshot from CSV: all rows or none, every bad line named, exact balances in base
units, delegation by Snapshot's rule."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.base.errors import ValidationFailed
from core.base.parsing import to_decimal
from core.voting.snapshot_file import (BALANCE_PLACES, MAX_BALANCE, MAX_REPORTED, UNIT, Holder,
                                       SnapshotRejected, effective_weights, load_snapshot, parse_balance,
                                       read_snapshot, snapshot_from_text, to_units,
                                       units_to_decimal)

A = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
B = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
C = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"
D = "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"


def flip(address: str) -> str:
    """The address with its first letter's case flipped: a broken checksum."""
    at = next(i for i, c in enumerate(address) if i >= 2 and c.isalpha())
    return address[:at] + address[at].swapcase() + address[at + 1:]


def refusal(text: str) -> list[str]:
    with pytest.raises(ValidationFailed) as refused:
        snapshot_from_text(text)
    return refused.value.problems


def test_a_good_file_gives_its_holders_weights_delegates_and_exact_total():
    snapshot = snapshot_from_text(
        f"address,balance,delegate\n{A.lower()},1000.5,\n{B},0.000000000000000001,{A.lower()}\n"
        f"{C},2e3,\n")
    assert snapshot.holders == (Holder(A, 1000 * UNIT + UNIT // 2), Holder(B, 1, A),
                                Holder(C, 2000 * UNIT))
    assert snapshot.total == Decimal("3000.500000000000000001")
    assert snapshot.weights == {A: Decimal("1000.5"), B: Decimal("1E-18"), C: Decimal(2000)}
    assert snapshot.delegates == {B: A}


def test_the_delegate_column_is_optional_and_columns_may_come_in_any_order():
    snapshot = snapshot_from_text(f"Balance, Address\n7,{A}\n")
    assert snapshot.holders == (Holder(A, 7 * UNIT),)


def test_a_byte_order_mark_crlf_line_ends_and_blank_lines_are_read():
    snapshot = read_snapshot(
        f"\ufeffaddress,balance\r\n{A},1\r\n\r\n{B},2\r\n".encode().splitlines(keepends=True))
    assert snapshot.total == 3


def test_every_bad_line_is_named_with_its_number_and_nothing_is_read():
    problems = refusal(
        "address,balance,delegate\n"
        f"{A},10,\n"                       # line 2: good
        f"0x123,5,\n"                      # line 3: not an address
        f"{B},-1,\n"                       # line 4: negative
        f"{C},1.0000000000000000001,\n"    # line 5: too many places
        f"{A.lower()},3,\n"                # line 6: A again
        f"{D},4,{D}\n"                     # line 7: delegates to itself
        f"{flip(D)},1,\n"                  # line 8: checksum
        f"0x{'ab' * 20},,\n"               # line 9: missing balance
        f"{D},1\n")                        # line 10: a field short
    assert problems == [
        "line 3, address: '0x123' is not an address: it has 3 characters after 0x; an address "
        "has 40 hex digits",
        "line 4, balance: -1 is negative; a balance is 0 or more",
        f"line 5, balance: 1.0000000000000000001 has more than {BALANCE_PLACES} decimal places",
        f"line 6, address: {A} appears again (first on line 2)",
        "line 7, delegate: is the holder itself; leave it empty to keep the weight",
        f"line 8, address: '{flip(D)}' mixes upper and lower case but "
        "fails its EIP-55 checksum (a mistyped character?); write it all lower-case, or exactly "
        "as the wallet shows it",
        "line 9, balance: missing value",
        "line 10, has 2 fields, the header has 3",
    ]


def test_one_bad_row_among_good_ones_refuses_the_whole_file():
    rows = "".join(f"0x{i:040x},1\n" for i in range(1, 100))
    with pytest.raises(SnapshotRejected) as refused:
        snapshot_from_text(f"address,balance\n{rows}0x{0:040x},NaN\n")
    assert refused.value.problems == ["line 101, balance: NaN is not a finite number"]


def test_past_the_reported_limit_the_refusal_counts_the_rest():
    rows = "".join(f"0x{i:040x},x\n" for i in range(1, MAX_REPORTED + 6))
    problems = refusal(f"address,balance\n{rows}")
    assert len(problems) == MAX_REPORTED + 1
    assert problems[-1] == (f"... and 5 more bad rows ({MAX_REPORTED + 5} in all); nothing was "
                            "read from the snapshot file")


@pytest.mark.parametrize(("text", "problems"), [
    ("", ["header: the file is empty; a header row is required (address,balance,delegate)"]),
    ("address,amount\n", ["header: unexpected column 'amount' (allowed: address, balance, "
                          "delegate)", "header: missing column 'balance'"]),
    ("address,balance,balance\n", ["header: column 'balance' appears more than once"]),
    ("address,balance\n", ["file: the snapshot has no holders; at least one row is required"]),
    (f"address,balance\n{A},0\n", ["file: every balance is 0; a snapshot needs some weight to vote "
                                   "with"]),
])
def test_a_file_without_a_right_header_or_any_weight_is_refused(text, problems):
    assert refusal(text) == problems


def test_the_header_repeated_inside_the_file_is_named():
    assert refusal(f"address,balance\n{A},1\naddress,balance\n{B},1\n") == [
        "line 3, repeats the header row (two files joined?)"]


def test_a_balance_above_the_maximum_is_refused_naming_it():
    assert refusal(f"address,balance\n{A},{MAX_BALANCE + 1}\n") == [
        f"line 2, balance: {MAX_BALANCE + 1} is above the maximum {MAX_BALANCE:,}"]


@pytest.mark.parametrize(("raw", "reason"), [
    ("+5", "'+5' has a '+' sign; write the number without one"),
    ("1_000", "'1_000' has an underscore; write the digits without separators"),
    ("Infinity", "Infinity is not a finite number"),
    ("1,5", None),
])
def test_balances_are_read_by_the_products_own_number_rules(raw, reason):
    problems = refusal(f'address,balance\n{A},"{raw}"\n')
    assert problems[0].startswith("line 2, balance: ")
    if reason:
        assert problems == [f"line 2, balance: {reason}"]


def test_minus_zero_is_a_zero_balance():
    snapshot = snapshot_from_text(f"address,balance\n{A},-0\n{B},1\n")
    assert snapshot.weight_units == {A: 0, B: UNIT}


@pytest.mark.parametrize(("raw", "message"), [
    (b"address,balance\n\xff,1\n", "line 2: is not UTF-8 text"),
    (b"address,balance\r" + A.encode() + b",1\r", "line 1: has a carriage return inside the line; "
                                                  "lines must end with LF or CRLF"),
    (b"address,balance\n" + A.encode() + b",1\x00\n", "line 2: contains a NUL character (U+0000)"),
])
def test_a_file_that_is_not_clean_text_is_refused_at_its_line(raw, message):
    with pytest.raises(ValidationFailed) as refused:
        read_snapshot(io.BytesIO(raw))  # as an open file splits lines: at LF only
    assert refused.value.problems == [message]


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ValidationFailed, match=r"^file: .*nope.csv cannot be read"):
        load_snapshot(tmp_path / "nope.csv")


def test_a_file_on_disk_is_read(tmp_path):
    path = tmp_path / "holders.csv"
    path.write_text(f"address,balance\n{A},12.25\n", encoding="utf-8")
    assert load_snapshot(path).total == Decimal("12.25")


@given(st.integers(min_value=0, max_value=int(MAX_BALANCE) * UNIT))
def test_base_units_and_decimals_convert_both_ways_exactly(units):
    assert to_units(units_to_decimal(units)) == units


# --- delegation --------------------------------------------------------------------------------

BALANCES = {A: Decimal(100), B: Decimal(30), C: Decimal(5), D: Decimal(1)}


def test_a_delegators_weight_goes_to_their_delegate_when_they_do_not_vote():
    assert effective_weights(BALANCES, {B: A, C: A}, voters={A}) == {A: Decimal(135)}


def test_a_delegator_who_votes_takes_their_weight_back():
    assert effective_weights(BALANCES, {B: A, C: A}, voters={A, B}) == {A: Decimal(105),
                                                                         B: Decimal(30)}


def test_delegated_weight_does_not_chain_through_a_delegate_who_does_not_vote():
    # C -> B -> A: A gets B's own weight; C's went to B, who did not vote, and stops there.
    assert effective_weights(BALANCES, {C: B, B: A}, voters={A}) == {A: Decimal(130)}


def test_a_delegate_without_a_balance_votes_with_what_was_delegated_to_them():
    outsider = "0x" + "12" * 20
    assert effective_weights(BALANCES, {D: outsider}, voters={outsider}) == {outsider: Decimal(1)}


def test_a_voter_with_no_balance_and_no_delegators_weighs_nothing():
    assert effective_weights(BALANCES, {}, voters={"0x" + "34" * 20}) == {"0x" + "34" * 20: 0}


def test_delegation_works_on_base_units_too():
    assert effective_weights({A: 3, B: 4}, {B: A}, [A]) == {A: 7}


@given(st.from_regex(r"[0-9]{1,25}(\.[0-9]{0,20})?", fullmatch=True))
def test_a_plainly_written_balance_reads_as_the_products_number_parser_reads_it(raw):
    try:
        expected = to_units(to_decimal(raw, "balance", places=BALANCE_PLACES))
        expected = expected if expected <= MAX_BALANCE * UNIT else None
    except ValueError:
        expected = None
    try:
        assert parse_balance(raw) == expected
    except ValueError:
        assert expected is None
