"""EVM addresses as people paste them, read once and kept in one form: the EIP-55 checksummed
text (`0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed`), which is what wallets show and what
eth-account's recovery returns, so an address read here and one recovered from a signature are
compared as plain strings.

Rules (EIP-55, as eth-utils and ethers read it):
* `0x` and exactly 40 hex digits: an address is 20 bytes.
* All lower-case (or all upper-case) hex carries no checksum and is accepted as it is: that is how
  platform exports and block explorers' CSVs write them.
* Mixed case *is* a checksum, and must be the right one: a mixed-case address that fails it has a
  mistyped character, and a vote or a weight must never go to a neighbour of the intended address.
"""

from __future__ import annotations

import re
from typing import Any

from sha3 import keccak_256  # safe-pysha3: eth-hash's C backend, 8x its pycryptodome one

from core.base.errors import ValidationFailed
from core.base.parsing import shown

ADDRESS_PREFIX = "0x"
ADDRESS_BYTES = 20
ADDRESS_HEX_DIGITS = 2 * ADDRESS_BYTES
# EIP-55: a letter is upper-case where the matching nibble of keccak256(lower-case hex) is >= 8.
CHECKSUM_NIBBLE = 8
_MASK = bytes(0xFF if chr(c) in "0123456789abcdef" and int(chr(c), 16) >= CHECKSUM_NIBBLE else 0
               for c in range(256))

# Messages repeat an address whole (core.base.parsing.shown cuts at 40 characters), with room for
# its quotes and a character or two too many.
_SHOWN = len(ADDRESS_PREFIX) + ADDRESS_HEX_DIGITS + 4

_HEX = re.compile(rf"[0-9a-fA-F]{{{ADDRESS_HEX_DIGITS}}}", re.ASCII)


def keccak(data: bytes) -> bytes:
    """Ethereum's keccak256 (not NIST's SHA3-256, which pads differently). Every hash of the
    voting core goes through here: a snapshot of a million holders takes about four million."""
    return keccak_256(data).digest()


def checksummed(lower_hex: str) -> str:
    """The EIP-55 form of 40 lower-case hex digits (without `0x`).

    Done on whole strings rather than character by character (a million-holder snapshot reads a
    million addresses): the digest's hex digits become a byte mask, 0xFF where the nibble is at
    least CHECKSUM_NIBBLE, and each character is taken from the upper-cased text under the mask,
    from the lower-case text elsewhere (digits are the same in both)."""
    lower = lower_hex.encode("ascii")
    digest = keccak_256(lower).hexdigest()[:ADDRESS_HEX_DIGITS].encode("ascii")
    mask = int.from_bytes(digest.translate(_MASK), "big")
    low, high = int.from_bytes(lower, "big"), int.from_bytes(lower.upper(), "big")
    chosen = (low & ~mask) | (high & mask)
    return ADDRESS_PREFIX + chosen.to_bytes(ADDRESS_HEX_DIGITS, "big").decode("ascii")


def address_problem(text: str) -> str | None:
    """Why `text` is not an address, or None (the caller names the field)."""
    quoted = shown(text, limit=_SHOWN)
    if not text.startswith(ADDRESS_PREFIX):
        return (f"{quoted} is not an address: it must start with {ADDRESS_PREFIX} followed by "
                f"{ADDRESS_HEX_DIGITS} hex digits")
    digits = text[len(ADDRESS_PREFIX):]
    if len(digits) != ADDRESS_HEX_DIGITS:
        return (f"{quoted} is not an address: it has {len(digits)} characters after "
                f"{ADDRESS_PREFIX}; an address has {ADDRESS_HEX_DIGITS} hex digits")
    if not _HEX.fullmatch(digits):
        return (f"{quoted} is not an address: only the hex digits 0-9 and a-f may follow "
                f"{ADDRESS_PREFIX}")
    return None


def normalise(text: str) -> str:
    """The checksummed form of an address already known to be well formed, or ValueError with
    the reason when its mixed case is not its checksum."""
    digits = text[len(ADDRESS_PREFIX):]
    lower = digits.lower()
    canonical = checksummed(lower)
    if digits != lower and digits != digits.upper() and canonical != text:
        raise ValueError(
            f"{shown(text, limit=_SHOWN)} mixes upper and lower case but fails its EIP-55 "
            "checksum (a mistyped character?); write it all lower-case, or exactly as the "
            "wallet shows it")
    return canonical


def parse_address(value: Any, field: str = "address") -> str:
    """An address as its checksummed text, or ValidationFailed naming `field` and the rule."""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field}: must be text (0x followed by {ADDRESS_HEX_DIGITS} hex digits)")
    text = value.strip()
    if not text:
        raise ValidationFailed(f"{field}: missing value")
    problem = address_problem(text)
    if problem:
        raise ValidationFailed(f"{field}: {problem}")
    try:
        return normalise(text)
    except ValueError as error:
        raise ValidationFailed(f"{field}: {error}") from None


def address_bytes(address: str) -> bytes:
    """The 20 bytes of an address already read by `parse_address`."""
    return bytes.fromhex(address[len(ADDRESS_PREFIX):])
