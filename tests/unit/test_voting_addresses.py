"""EVM addresses: 0x and 40 hex digits; lower-case taken as it is; mixed case must be its EIP-55
checksum; one-line errors naming the field."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils import to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from core.base.errors import ValidationFailed
from core.voting.addresses import ADDRESS_HEX_DIGITS, address_bytes, checksummed, parse_address

# EIP-55's own examples.
EIP55 = ["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
         "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"]


@pytest.mark.parametrize("address", EIP55)
def test_a_correctly_checksummed_address_is_read_as_it_is(address):
    assert parse_address(address) == address


@pytest.mark.parametrize("address", EIP55)
def test_a_lower_case_address_is_read_into_its_checksummed_form(address):
    assert parse_address(address.lower()) == address


def test_an_all_upper_case_address_carries_no_checksum_and_is_taken():
    assert parse_address("0x" + EIP55[0][2:].upper()) == EIP55[0]


def test_surrounding_spaces_are_dropped():
    assert parse_address(f"  {EIP55[1]}\t") == EIP55[1]


def test_a_mixed_case_address_with_one_letter_flipped_is_refused_as_a_failed_checksum():
    flipped = EIP55[0][:3] + EIP55[0][3].swapcase() + EIP55[0][4:]  # 'a' -> 'A' at position 3
    with pytest.raises(ValidationFailed) as refused:
        parse_address(flipped, "delegate")
    assert refused.value.problems == [
        f"delegate: {flipped!r} mixes upper and lower case but fails its EIP-55 checksum (a "
        "mistyped character?); write it all lower-case, or exactly as the wallet shows it"]


@pytest.mark.parametrize(("value", "reason"), [
    ("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "it must start with 0x followed by 40 hex digits"),
    ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",
     "it has 39 characters after 0x; an address has 40 hex digits"),
    ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAedd",
     "it has 41 characters after 0x; an address has 40 hex digits"),
    ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg", "only the hex digits 0-9 and a-f may follow 0x"),
    ("0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "it must start with 0x followed by 40 hex digits"),
])
def test_a_malformed_address_is_refused_with_the_rule_it_breaks(value, reason):
    with pytest.raises(ValidationFailed) as refused:
        parse_address(value, "address")
    assert len(refused.value.problems) == 1
    assert refused.value.problems[0].startswith("address: ")
    assert refused.value.problems[0].endswith(reason)


@pytest.mark.parametrize(("value", "message"), [
    ("", "voter: missing value"),
    (None, f"voter: must be text (0x followed by {ADDRESS_HEX_DIGITS} hex digits)"),
    (12, f"voter: must be text (0x followed by {ADDRESS_HEX_DIGITS} hex digits)"),
])
def test_an_address_that_is_not_text_or_is_empty_is_refused(value, message):
    with pytest.raises(ValidationFailed) as refused:
        parse_address(value, "voter")
    assert refused.value.problems == [message]


def test_an_address_made_by_eth_account_reads_as_eth_account_writes_it():
    account = Account.from_key("0x" + "42" * 32)
    assert parse_address(account.address.lower()) == account.address
    assert address_bytes(account.address) == bytes.fromhex(account.address[2:])


@given(st.binary(min_size=20, max_size=20))
def test_our_checksum_is_eth_utils_checksum_for_any_twenty_bytes(raw):
    assert checksummed(raw.hex()) == to_checksum_address("0x" + raw.hex())
