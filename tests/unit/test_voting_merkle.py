"""The snapshot's Merkle tree is OpenZeppelin's StandardMerkleTree over (address, uint256): the
same leaves, layout, root and proofs; each checked here by recomputing the hashes by hand."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from core.base.errors import NotFound, ValidationFailed
from core.voting.addresses import checksummed
from core.voting.merkle import MerkleTree, build_tree, hex32, leaf_hash, merkle_root, verify

A = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
B = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
C = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"
TOKEN = 10 ** 18


def by_hand_leaf(address: str, units: int) -> bytes:
    return keccak(keccak(encode(["address", "uint256"], [address, units])))


def by_hand_pair(a: bytes, b: bytes) -> bytes:
    return keccak(b"".join(sorted([a, b])))


def test_a_leaf_is_the_double_keccak_of_the_abi_encoded_address_and_weight():
    assert leaf_hash(A, 5 * TOKEN) == by_hand_leaf(A, 5 * TOKEN)


def test_a_tree_of_three_has_the_root_recomputed_by_hand_and_each_proof_reaches_it():
    table = [(A, 5 * TOKEN), (B, 3 * TOKEN), (C, TOKEN // 2)]
    tree = MerkleTree(table)
    # By hand: sort the leaves and place them from the end of the array (OpenZeppelin's layout):
    # [root, node, high, middle, low]; node = children 3 and 4, the root = children 1 and 2.
    low, middle, high = sorted(by_hand_leaf(a, u) for a, u in table)
    node = by_hand_pair(middle, low)
    root = by_hand_pair(node, high)
    assert tree.root == "0x" + root.hex()
    proofs = {a: tree.proof(a) for a, _ in table}
    leaf_of = {a: by_hand_leaf(a, u) for a, u in table}
    for address, proof in proofs.items():
        assert proof.leaf == "0x" + leaf_of[address].hex()
        assert proof.root == tree.root
        assert verify(proof.proof, proof.leaf, tree.root)
    # The highest leaf sits right under the root: its proof is the one inner node; the others
    # climb two levels.
    highest = next(a for a in leaf_of if leaf_of[a] == high)
    lowest = next(a for a in leaf_of if leaf_of[a] == low)
    assert proofs[highest].proof == ("0x" + node.hex(),)
    assert proofs[lowest].proof == ("0x" + middle.hex(), "0x" + high.hex())


def test_the_tree_matches_a_dump_made_by_openzeppelins_own_library():
    # StandardMerkleTree.of([[X, "0"], [X, "1"], [X, "2"]], ["address", "uint256"]).dump(), where
    # X = 0x80d628ff4AC2aFf620C3474663F1e559234bbE0c (a public dump of their JavaScript library).
    x = "0x80d628ff4AC2aFf620C3474663F1e559234bbE0c"
    leaves = sorted(leaf_hash(x, units) for units in range(3))
    assert [hex32(n) for n in build_tree(leaves)] == [
        "0x0fecce441c7468f17e3fe4a5f211b77a15b27c9ab3d33317df385dfbe5487034",
        "0x636ab2686ee3036244cf3d6b5574e051e4b20a3577b008975dbcca6dde2897d2",
        "0xd90245da324d7908326a3d56a9659741551a4603c397bf4dd373976bd85660e7",
        "0x36fb17c97ec80bb961ff0adff1af4a2a34847ecc40653c162e327117a76e3ec9",
        "0x1867c4ebd455913e429523a5c2d4b3a79f58068b5a25af911956245ed03a659d",
    ]
    # ...and the dump's treeIndex of each value: 4, 3, 2 for weights 0, 1, 2.
    assert [len(leaves) * 2 - 2 - leaves.index(leaf_hash(x, u)) for u in range(3)] == [4, 3, 2]


def test_a_proof_does_not_verify_another_weight_or_another_root():
    tree = MerkleTree([(A, 5 * TOKEN), (B, 3 * TOKEN), (C, TOKEN)])
    proof = tree.proof(B)
    assert not verify(proof.proof, hex32(leaf_hash(B, 4 * TOKEN)), tree.root)
    other = MerkleTree([(A, 5 * TOKEN), (B, 3 * TOKEN), (C, 2 * TOKEN)])
    assert not verify(proof.proof, proof.leaf, other.root)


def test_a_malformed_hash_in_a_proof_proves_nothing():
    tree = MerkleTree([(A, 1), (B, 2)])
    proof = tree.proof(A)
    assert not verify(["0x1234"], proof.leaf, tree.root)
    assert not verify(["not hex at all"], proof.leaf, tree.root)


def test_a_single_holders_root_is_their_leaf_and_their_proof_is_empty():
    tree = MerkleTree([(A, TOKEN)])
    assert tree.root == hex32(by_hand_leaf(A, TOKEN))
    assert tree.proof(A).proof == ()
    assert verify([], tree.proof(A).leaf, tree.root)


def test_the_root_does_not_depend_on_the_order_of_the_rows():
    assert merkle_root([(A, 1), (B, 2), (C, 3)]) == merkle_root([(C, 3), (A, 1), (B, 2)])


def test_an_address_twice_in_the_table_is_refused():
    with pytest.raises(ValidationFailed, match="appears twice"):
        MerkleTree([(A, 1), (A, 2)])


def test_a_proof_for_an_address_outside_the_snapshot_is_not_found():
    with pytest.raises(NotFound) as missing:
        MerkleTree([(A, 1)]).proof(B)
    assert missing.value.problems == [f"address: {B} holds nothing in this snapshot"]


def test_an_empty_table_has_no_tree():
    with pytest.raises(ValidationFailed, match="at least one leaf"):
        MerkleTree([])


@settings(max_examples=40)
@given(st.dictionaries(st.binary(min_size=20, max_size=20), st.integers(0, 2 ** 96),
                       min_size=1, max_size=40))
def test_every_holders_proof_verifies_against_the_root_for_any_table(table):
    entries = [(checksummed(raw.hex()), units) for raw, units in table.items()]
    tree = MerkleTree(entries)
    for address, units in entries:
        proof = tree.proof(address)
        assert proof.units == units
        assert verify(proof.proof, hex32(by_hand_leaf(address, units)), tree.root)
