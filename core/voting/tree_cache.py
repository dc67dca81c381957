"""The built Merkle trees of the snapshots asked about most recently, kept in memory so a holder's
proof does not rebuild the whole tree (about 7 s per million holders) on every request.

A snapshot never changes (its holder rows can be neither changed nor deleted), so a tree built
once stays right; the key also holds the snapshot's published root, so a tree is only ever served
for the root it was checked against. Each tree costs memory in proportion to its holders (about
75 MiB for 200,000, measured with tracemalloc; so some 375 MiB for a million), hence a small
bound: the least recently used is dropped past it.

Two first requests for the same snapshot build it once: the second waits for the first's tree
(a lock per key), while a request for another snapshot, cached or not, does not wait for them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from core.voting.merkle import MerkleTree

TREES_KEPT = 2  # a vote runs on one snapshot at a time; the previous one is still asked about

Key = tuple[str, str]  # (snapshot id, published Merkle root)


@dataclass(frozen=True)
class CacheInfo:
    """As functools.lru_cache's `cache_info()`: what was served from memory, what was built."""

    hits: int
    builds: int
    kept: int
    max_kept: int


class TreeCache:
    """At most `max_kept` built trees, least recently used dropped first."""

    def __init__(self, max_kept: int = TREES_KEPT) -> None:
        self.max_kept = max_kept
        self._lock = threading.Lock()  # guards the fields below, never held while building
        self._trees: OrderedDict[Key, MerkleTree] = OrderedDict()
        self._building: dict[Key, threading.Lock] = {}
        self._hits = self._builds = 0

    def _cached(self, key: Key) -> MerkleTree | None:
        """The kept tree, marked as just used (under self._lock)."""
        tree = self._trees.get(key)
        if tree is not None:
            self._trees.move_to_end(key)
            self._hits += 1
        return tree

    def get(self, key: Key, build: Callable[[], MerkleTree]) -> MerkleTree:
        """The tree of `key`, built by `build()` only when it is not kept. A build that raises
        keeps nothing: the next request tries again."""
        with self._lock:
            tree = self._cached(key)
            if tree is not None:
                return tree
            building = self._building.setdefault(key, threading.Lock())
        with building:
            with self._lock:
                tree = self._cached(key)  # built meanwhile by the request we waited for
                if tree is not None:
                    return tree
            try:
                tree = build()
            except BaseException:
                with self._lock:
                    self._forget_building(key, building)
                raise
            with self._lock:  # kept before the key's lock goes: a request now finds the tree
                self._builds += 1
                self._trees[key] = tree
                while len(self._trees) > self.max_kept:
                    self._trees.popitem(last=False)
                self._forget_building(key, building)
            return tree

    def _forget_building(self, key: Key, building: threading.Lock) -> None:
        if self._building.get(key) is building:
            del self._building[key]

    def cache_info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self._hits, self._builds, len(self._trees), self.max_kept)

    def cache_clear(self) -> None:
        with self._lock:
            self._trees.clear()
            self._hits = self._builds = 0
