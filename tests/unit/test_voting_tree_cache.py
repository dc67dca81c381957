"""The proofs' tree cache: a snapshot's tree is built once and kept, at most TREES_KEPT of them,
the least recently used dropped first; concurrent first requests build it once; a failed build
keeps nothing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.base.errors import Refused
from core.voting.addresses import checksummed
from core.voting.merkle import MerkleTree
from core.voting.tree_cache import TREES_KEPT, CacheInfo, TreeCache


def holders(count: int, units: int = 1) -> list[tuple[str, int]]:
    return [(checksummed(f"{i + 1:040x}"), units) for i in range(count)]


class Builds:
    """A builder that counts its calls (for each key, the same table)."""

    def __init__(self, count: int = 3) -> None:
        self.count, self.calls = count, 0
        self._lock = threading.Lock()

    def __call__(self) -> MerkleTree:
        with self._lock:
            self.calls += 1
        return MerkleTree(holders(self.count))


def test_a_snapshot_s_tree_is_built_once_and_then_served_from_memory():
    cache, build = TreeCache(), Builds()
    first = cache.get(("s1", "root"), build)
    assert cache.get(("s1", "root"), build) is first
    assert build.calls == 1
    info = cache.cache_info()
    assert (info.hits, info.builds, info.kept, info.max_kept) == (1, 1, 1, TREES_KEPT)


def test_past_its_bound_the_least_recently_used_tree_is_dropped():
    cache, build = TreeCache(max_kept=2), Builds()
    a = cache.get(("a", "r"), build)
    cache.get(("b", "r"), build)
    assert cache.get(("a", "r"), build) is a  # a is now the most recently used
    cache.get(("c", "r"), build)  # drops b
    assert cache.cache_info().kept == 2 and build.calls == 3
    assert cache.get(("a", "r"), build) is a
    cache.get(("b", "r"), build)
    assert build.calls == 4


def test_concurrent_first_requests_for_one_snapshot_build_its_tree_once():
    cache, build = TreeCache(), Builds(count=3000)  # long enough for the others to arrive
    start = threading.Barrier(8)

    def ask() -> MerkleTree:
        start.wait()
        return cache.get(("s1", "root"), build)

    with ThreadPoolExecutor(8) as pool:
        trees = list(pool.map(lambda _: ask(), range(8)))
    assert build.calls == 1
    assert all(tree is trees[0] for tree in trees)


def test_a_failed_build_keeps_nothing_and_the_next_request_builds_again():
    cache, build = TreeCache(), Builds()

    def altered() -> MerkleTree:
        raise Refused("snapshot: this snapshot's table has been altered")

    with pytest.raises(Refused):
        cache.get(("s1", "root"), altered)
    assert cache.cache_info().kept == 0
    cache.get(("s1", "root"), build)
    assert build.calls == 1 and cache.cache_info().builds == 1


def test_clearing_forgets_every_tree_and_the_counts():
    cache, build = TreeCache(), Builds()
    cache.get(("s1", "root"), build)
    cache.cache_clear()
    assert cache.cache_info() == CacheInfo(hits=0, builds=0, kept=0, max_kept=TREES_KEPT)
    cache.get(("s1", "root"), build)
    assert build.calls == 2
