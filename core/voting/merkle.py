"""The Merkle tree of a snapshot's (address, weight) table, built exactly as OpenZeppelin's
`StandardMerkleTree.of(values, ["address", "uint256"])` builds it, so the published root can be
checked with their JavaScript library or on chain with `MerkleProof.verify`:

* leaf = keccak256(keccak256(abi.encode(address, uint256 weight))), the weight in base units
  (balance x 10^BALANCE_PLACES). The double hash keeps a leaf (64 bytes before hashing) from ever
  being read as an inner node (also 64 bytes: two hashes), the second-preimage attack.
* the leaves are sorted by their hash (as bytes), and laid out as a complete binary tree in one
  array of 2n - 1 nodes: leaf i at index 2n - 2 - i, node k's children at 2k + 1 and 2k + 2.
* an inner node = keccak256 of its two children sorted as bytes (so a proof needs no left/right
  flags), the root at index 0.
* a proof is the sibling of each node on the path from the leaf up to the root; verifying it
  folds the same sorted-pair hash from the leaf and compares with the root.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.base.errors import NotFound, ValidationFailed
from core.voting.addresses import ADDRESS_BYTES, address_bytes, keccak

HASH_BYTES = 32
LEAF_ENCODING = ("address", "uint256")  # as OpenZeppelin's tree dump names it
MAX_UINT256 = 2 ** 256 - 1
_ADDRESS_PAD = bytes(HASH_BYTES - ADDRESS_BYTES)  # abi.encode left-pads an address to 32 bytes


def leaf_hash(address: str, units: int) -> bytes:
    """keccak256(keccak256(abi.encode(address, uint256 units))) of a checksummed address."""
    if not 0 <= units <= MAX_UINT256:
        raise ValidationFailed(f"weight: {units} base units do not fit a uint256")
    encoded = _ADDRESS_PAD + address_bytes(address) + units.to_bytes(HASH_BYTES, "big")
    return keccak(keccak(encoded))


def node_hash(a: bytes, b: bytes) -> bytes:
    """An inner node: the hash of its children in byte order."""
    return keccak(a + b if a <= b else b + a)


def build_tree(leaves: Sequence[bytes]) -> list[bytes]:
    """The whole tree as OpenZeppelin's `makeMerkleTree` lays it out, from leaves already in their
    order (`MerkleTree` sorts them): the root at 0, leaf i at len - 1 - i."""
    if not leaves:
        raise ValidationFailed("snapshot: a Merkle tree needs at least one leaf")
    size = 2 * len(leaves) - 1
    tree: list[bytes] = [b""] * (size - len(leaves)) + list(reversed(leaves))
    for index in range(size - 1 - len(leaves), -1, -1):
        tree[index] = node_hash(tree[2 * index + 1], tree[2 * index + 2])
    return tree


def proof_at(tree: Sequence[bytes], index: int) -> list[bytes]:
    """The siblings from node `index` up to the root."""
    proof = []
    while index > 0:
        proof.append(tree[index + 1 if index % 2 else index - 1])
        index = (index - 1) // 2
    return proof


def verify(proof: Iterable[bytes | str], leaf: bytes | str, root: bytes | str) -> bool:
    """Whether `proof` takes `leaf` to `root` (each as bytes or 0x-hex). Pure: needs no tree."""
    try:
        node = _bytes(leaf)
        for sibling in proof:
            node = node_hash(node, _bytes(sibling))
        return node == _bytes(root)
    except ValueError:
        return False  # a malformed hash proves nothing


def _bytes(value: bytes | str) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)
    if len(raw) != HASH_BYTES:
        raise ValueError(f"a hash is {HASH_BYTES} bytes")
    return raw


def hex32(value: bytes) -> str:
    return "0x" + value.hex()


@dataclass(frozen=True)
class WeightProof:
    """What a holder needs to check their own weight against the published root."""

    address: str
    units: int  # the weight in base units, as hashed
    leaf: str
    proof: tuple[str, ...]
    root: str

    def as_json(self) -> dict[str, object]:
        return {"address": self.address, "weight_units": str(self.units), "leaf": self.leaf,
                "proof": list(self.proof), "root": self.root,
                "leaf_encoding": list(LEAF_ENCODING)}


class MerkleTree:
    """The tree of an (address, weight in base units) table; one entry per address."""

    def __init__(self, entries: Iterable[tuple[str, int]]) -> None:
        hashed: list[tuple[bytes, str, int]] = []
        seen: set[str] = set()
        for address, units in entries:
            if address in seen:
                raise ValidationFailed(f"address: {address} appears twice in the weight table")
            seen.add(address)
            hashed.append((leaf_hash(address, units), address, units))
        hashed.sort(key=lambda entry: entry[0])
        self.tree = build_tree([h for h, _, _ in hashed])
        last = len(self.tree) - 1
        # address -> (its tree index, its units)
        self._where = {address: (last - i, units) for i, (_, address, units) in enumerate(hashed)}

    @property
    def root(self) -> str:
        return hex32(self.tree[0])

    def __len__(self) -> int:
        return len(self._where)

    def proof(self, address: str) -> WeightProof:
        """The proof of `address`'s weight, or NotFound when it is not in the snapshot."""
        if address not in self._where:
            raise NotFound(f"address: {address} holds nothing in this snapshot")
        index, units = self._where[address]
        return WeightProof(address, units, hex32(self.tree[index]),
                           tuple(hex32(p) for p in proof_at(self.tree, index)), self.root)


def merkle_root(entries: Iterable[tuple[str, int]]) -> str:
    return MerkleTree(entries).root
