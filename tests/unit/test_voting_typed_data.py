"""A vote is EIP-712 typed data signed by the holder's wallet; verify_vote takes only a signature
made by the voting address's key over exactly this proposal, support and time. Signatures are
made here with eth-account from known keys."""

from __future__ import annotations

import uuid

import pytest
from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from core.base.errors import ValidationFailed
from core.record import audit
from core.voting.typed_data import (DEFAULT_CHAIN_ID, DOMAIN_NAME, DOMAIN_VERSION, MAX_CHAIN_ID,
                                    MAX_TIMESTAMP, SECP256K1_N, SIGNATURE_BYTES, SUPPORTS, Vote,
                                    parse_chain_id, recover, typed_data, verify_vote)
from db import models as db_models

ALICE = Account.from_key("0x" + "a1" * 32)
BOB = Account.from_key("0x" + "b0" * 32)
PROPOSAL = "6f1c7a52-3d0e-4c55-9f1e-2b8a7c9d0e11"
OTHER_PROPOSAL = "0b3e9d84-7a61-4f2b-8c5d-1e0f9a8b7c6d"
T = 1_767_225_600  # 2026-01-01T00:00:00Z


def sign(account, proposal=PROPOSAL, support="for", timestamp=T, address=None, chain_id=DEFAULT_CHAIN_ID):
    document = typed_data(proposal, address or account.address, support, timestamp, chain_id)
    return "0x" + account.sign_message(encode_typed_data(full_message=document)).signature.hex()


def test_the_typed_data_names_the_product_the_chain_and_the_proposal_and_includes_its_domain_type():
    document = typed_data(PROPOSAL, ALICE.address.lower(), "Against", T)
    assert document["primaryType"] == "Vote"
    assert [f["name"] for f in document["types"]["EIP712Domain"]] == ["name", "version", "chainId", "salt"]
    assert document["domain"] == {"name": DOMAIN_NAME, "version": DOMAIN_VERSION,
                                  "chainId": DEFAULT_CHAIN_ID,
                                  "salt": "0x" + "0" * 32 + uuid.UUID(PROPOSAL).hex}
    assert document["message"] == {"proposal": PROPOSAL, "support": "against",
                                   "address": ALICE.address, "timestamp": T}


def test_a_vote_signed_by_the_holders_key_is_taken():
    signature = sign(ALICE)
    vote = verify_vote(PROPOSAL, address=ALICE.address, support="for", timestamp=T,
                       signature=signature, proposal=PROPOSAL)
    assert vote == Vote(PROPOSAL, ALICE.address, "for", T, signature)


def test_the_signed_hash_is_eip712s_recomputed_by_hand_so_any_wallet_signs_the_same_bytes():
    # hashStruct and the domain separator written out from EIP-712, without eth-account's encoder.
    domain_type = b"EIP712Domain(string name,string version,uint256 chainId,bytes32 salt)"
    vote_type = b"Vote(string proposal,string support,address address,uint64 timestamp)"
    separator = keccak(keccak(domain_type) + keccak(text=DOMAIN_NAME) + keccak(text=DOMAIN_VERSION)
                       + encode(["uint256", "bytes32"], [DEFAULT_CHAIN_ID, uuid.UUID(PROPOSAL).int
                                                         .to_bytes(32, "big")]))
    struct = keccak(keccak(vote_type) + keccak(text=PROPOSAL) + keccak(text="abstain")
                    + encode(["address", "uint64"], [BOB.address, T]))
    digest = keccak(b"\x19\x01" + separator + struct)
    signature = "0x" + Account.unsafe_sign_hash(digest, BOB.key).signature.hex()
    assert verify_vote(PROPOSAL, address=BOB.address, support="abstain", timestamp=T,
                       signature=signature).address == BOB.address


def test_a_signature_made_with_another_key_is_refused_naming_the_address():
    signature = sign(BOB, address=ALICE.address)  # Bob signs a vote that claims to be Alice's
    with pytest.raises(ValidationFailed) as refused:
        verify_vote(PROPOSAL, address=ALICE.address, support="for", timestamp=T, signature=signature)
    assert refused.value.problems == [
        f"signature: was not made by {ALICE.address} over this vote (proposal {PROPOSAL} on "
        f"chain {DEFAULT_CHAIN_ID}, support for, timestamp {T}); it recovers {BOB.address}, so it "
        "was signed by another key or over another proposal, chain, support or time (a wallet "
        "signs for the chain it is connected to)"]


def test_another_proposals_signature_replayed_on_this_one_is_refused():
    signature = sign(ALICE, proposal=OTHER_PROPOSAL)
    with pytest.raises(ValidationFailed) as refused:
        verify_vote(PROPOSAL, address=ALICE.address, support="for", timestamp=T, signature=signature)
    assert refused.value.problems[0].startswith(f"signature: was not made by {ALICE.address}")


def test_a_vote_naming_another_proposal_than_the_one_it_is_cast_on_is_refused_as_such():
    signature = sign(ALICE, proposal=OTHER_PROPOSAL)
    with pytest.raises(ValidationFailed) as refused:
        verify_vote(PROPOSAL, address=ALICE.address, support="for", timestamp=T,
                    signature=signature, proposal=OTHER_PROPOSAL)
    assert refused.value.problems == [
        f"proposal: the vote was signed for proposal {OTHER_PROPOSAL}, not {PROPOSAL}; a signed "
        "vote counts only for the proposal it names"]


@pytest.mark.parametrize("changed", [{"support": "against"}, {"timestamp": T + 1}])
def test_a_vote_whose_support_or_time_was_changed_after_signing_is_refused(changed):
    signature = sign(ALICE)
    claim = {"address": ALICE.address, "support": "for", "timestamp": T, **changed}
    with pytest.raises(ValidationFailed, match=f"^signature: was not made by {ALICE.address}"):
        verify_vote(PROPOSAL, signature=signature, **claim)


def test_a_signature_for_another_chain_is_refused():
    signature = sign(ALICE, chain_id=137)
    with pytest.raises(ValidationFailed, match="was not made by"):
        verify_vote(PROPOSAL, address=ALICE.address, support="for", timestamp=T, signature=signature)
    assert verify_vote(PROPOSAL, address=ALICE.address, support="for", timestamp=T,
                       signature=signature, chain_id=137).address == ALICE.address


BASE = 8453  # an L2 whose tokens vote here


def test_the_typed_data_of_a_snapshot_on_another_chain_carries_that_chain_in_its_domain():
    document = typed_data(PROPOSAL, ALICE.address, "for", T, BASE)
    assert document["domain"]["chainId"] == BASE


def test_a_signature_made_on_base_counts_on_base_only_and_names_the_chain_when_refused():
    signature = sign(ALICE, chain_id=BASE)
    assert verify_vote(PROPOSAL, address=ALICE.address, support="for", timestamp=T,
                       signature=signature, chain_id=BASE).address == ALICE.address
    with pytest.raises(ValidationFailed, match=f"over this vote \\(proposal {PROPOSAL} on chain "
                                               f"{DEFAULT_CHAIN_ID},"):
        verify_vote(PROPOSAL, address=ALICE.address, support="for", timestamp=T,
                    signature=signature, chain_id=DEFAULT_CHAIN_ID)


def test_a_signature_made_on_mainnet_does_not_count_on_base():
    signature = sign(ALICE, chain_id=DEFAULT_CHAIN_ID)
    with pytest.raises(ValidationFailed, match=f"on chain {BASE},"):
        verify_vote(PROPOSAL, address=ALICE.address, support="for", timestamp=T,
                    signature=signature, chain_id=BASE)


@pytest.mark.parametrize("chain_id", [0, -1, MAX_CHAIN_ID + 1, "abc", 1.5, None])
def test_a_chain_id_outside_1_to_2_53_minus_1_is_refused_naming_chain_id(chain_id):
    with pytest.raises(ValidationFailed, match="^chain_id: "):
        parse_chain_id(chain_id)


def test_the_largest_chain_id_a_wallet_holds_exactly_is_taken_and_the_database_bound_agrees():
    assert parse_chain_id(str(MAX_CHAIN_ID)) == MAX_CHAIN_ID == 2 ** 53 - 1
    assert db_models.MAX_CHAIN_ID == MAX_CHAIN_ID


def test_the_chain_of_a_snapshot_that_does_not_say_is_the_same_default_everywhere():
    column = db_models.VoteSnapshot.__table__.c.chain_id
    assert column.server_default.arg.text == str(DEFAULT_CHAIN_ID)
    assert audit.CHAINED_LATER["vote_snapshots"]["chain_id"] == DEFAULT_CHAIN_ID


def test_v_written_as_0_or_1_is_the_same_signature_as_27_or_28():
    signature = sign(ALICE)
    v = int(signature[-2:], 16)
    low_v = signature[:-2] + f"{v - 27:02x}"
    assert verify_vote(PROPOSAL, address=ALICE.address, support="for", timestamp=T,
                       signature=low_v).address == ALICE.address


HEX = 2 * SIGNATURE_BYTES


@pytest.mark.parametrize(("signature", "message"), [
    ("0x1234", f"signature: '0x1234' is not a signature: it must be 0x followed by {HEX} hex "
               f"digits ({SIGNATURE_BYTES} bytes: r, s and v)"),
    ("0x" + "zz" * SIGNATURE_BYTES, None),
    ("ab" * SIGNATURE_BYTES, None),
    (None, None),
    ("0x" + "11" * 64 + "05", "signature: its last byte (v) is 5; a signature's v is 27 or 28 (or 0 or 1)"),
    ("0x" + "00" * 32 + "11" * 32 + "1b", "signature: is not a valid secp256k1 signature (r or s "
                                          "out of range; only low-s signatures, as wallets make them, are taken)"),
])
def test_a_malformed_signature_is_refused_with_the_rule(signature, message):
    with pytest.raises(ValidationFailed) as refused:
        verify_vote(PROPOSAL, address=ALICE.address, support="for", timestamp=T, signature=signature)
    assert len(refused.value.problems) == 1
    assert refused.value.problems[0].startswith("signature: ")
    if message:
        assert refused.value.problems == [message]


def test_the_high_s_twin_of_a_valid_signature_is_refused():
    raw = bytes.fromhex(sign(ALICE)[2:])
    s = int.from_bytes(raw[32:64], "big")
    v = raw[64]
    twin = raw[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # 27 <-> 28
    with pytest.raises(ValidationFailed, match="only low-s signatures"):
        verify_vote(PROPOSAL, address=ALICE.address, support="for", timestamp=T,
                    signature="0x" + twin.hex())


@pytest.mark.parametrize(("field", "value", "message"), [
    ("support", "yes", f"support: 'yes' is not one of {', '.join(SUPPORTS)}"),
    ("timestamp", "-1", "timestamp: -1 is outside 0.." + str(MAX_TIMESTAMP)),
    ("timestamp", "1.5", "timestamp: '1.5' is not a whole number"),
    ("address", "0x123", "address: '0x123' is not an address: it has 3 characters after 0x; an "
                         "address has 40 hex digits"),
])
def test_a_malformed_part_of_a_vote_is_refused_naming_its_field(field, value, message):
    claim = {"address": ALICE.address, "support": "for", "timestamp": T, field: value}
    with pytest.raises(ValidationFailed) as refused:
        verify_vote(PROPOSAL, signature=sign(ALICE), **claim)
    assert refused.value.problems == [message]


def test_a_proposal_id_that_is_not_a_uuid_is_refused():
    with pytest.raises(ValidationFailed) as refused:
        typed_data("42", ALICE.address, "for", T)
    assert refused.value.problems == ["proposal_id: '42' is not a proposal id (a UUID)"]


def test_recover_names_the_signer_of_any_typed_data():
    document = typed_data(PROPOSAL, BOB.address, "against", T)
    signature = BOB.sign_message(encode_typed_data(full_message=document)).signature.hex()
    assert recover(document, "0x" + signature.removeprefix("0x")) == BOB.address
