"""The built Merkle trees of the snapshots asked about most recently, kept in memory so a holder's
proof does not rebuild the whole tree (about 7 s per million holders) on every request.

A snapshot never changes (its holder rows can be neither changed nor deleted), so a tree built
once stays right; the key also holds the snapshot's published root, so a tree is only ever served
for the root it was checked against. Each tree costs memory in proportion to its holders (about
75 MiB for 200,000, measured with tracemalloc; so some 375 MiB for a million), hence a small
bound: the least recently used is dropped past it.

The trees are built one at a time in the whole process: a request for a tree that is not kept,
while any build is under way, is told to come back (`Busy`, 503 with `Retry-After` over HTTP)
rather than queued, so no sequence of requests (asking about snapshot after snapshot, all
public) can hold more than one build's memory and one core, or tie up the server's threads
waiting. A snapshot refused as altered stays refused (it cannot change back) without being built
again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from core.base.errors import Busy, Refused
from core.voting.merkle import MerkleTree

TREES_KEPT = 2  # a vote runs on one snapshot at a time; the previous one is still asked about
REFUSALS_KEPT = 16  # snapshots found altered, remembered so they are not built again
BUSY_RETRY_SECONDS = 5  # a build takes about 7 s per million holders

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
        self._refusals: OrderedDict[Key, list[str]] = OrderedDict()
        self._hits = self._builds = 0
        self._builder = threading.Lock()  # held by the one build under way, if any

    def _cached(self, key: Key) -> MerkleTree | None:
        """The kept tree, marked as just used (under self._lock)."""
        tree = self._trees.get(key)
        if tree is not None:
            self._trees.move_to_end(key)
            self._hits += 1
        return tree

    def _known(self, key: Key) -> MerkleTree:
        """The kept tree, or the snapshot's remembered refusal raised again; KeyError if neither."""
        with self._lock:
            tree = self._cached(key)
            if tree is not None:
                return tree
            refusal = self._refusals.get(key)
        if refusal is not None:
            raise Refused(*refusal)
        raise KeyError(key)

    def get(self, key: Key, build: Callable[[], MerkleTree]) -> MerkleTree:
        """The tree of `key`, built by `build()` only when it is not kept and no other build is
        under way (else `Busy`). A `Refused` build is remembered; any other failure keeps
        nothing, and the next request tries again."""
        try:
            return self._known(key)
        except KeyError:
            pass
        if not self._builder.acquire(blocking=False):
            raise Busy(BUSY_RETRY_SECONDS, "snapshot: a proof tree is being built (one at a time); "
                       f"ask again in {BUSY_RETRY_SECONDS} s")
        try:
            try:
                return self._known(key)  # built (or refused) by the build that just ended
            except KeyError:
                pass
            try:
                tree = build()
            except Refused as refusal:
                with self._lock:
                    self._refusals[key] = refusal.problems
                    while len(self._refusals) > REFUSALS_KEPT:
                        self._refusals.popitem(last=False)
                raise
            with self._lock:
                self._builds += 1
                self._trees[key] = tree
                while len(self._trees) > self.max_kept:
                    self._trees.popitem(last=False)
            return tree
        finally:
            self._builder.release()

    def cache_info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self._hits, self._builds, len(self._trees), self.max_kept)

    def cache_clear(self) -> None:
        with self._lock:
            self._trees.clear()
            self._refusals.clear()
            self._hits = self._builds = 0
