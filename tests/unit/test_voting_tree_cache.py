"""The proofs' tree cache: a snapshot's tree is built once and kept, at most TREES_KEPT of them,
the least recently used dropped first; one build at a time in the process, any other request
for a tree not kept told to come back; an altered snapshot stays refused; another failure keeps
nothing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.base.errors import Busy, DatabaseUnavailable, Refused
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


class HeldBuild:
    """A build that waits, under way, until the test lets it finish (no sleeps)."""

    def __init__(self) -> None:
        self.started, self.finish = threading.Event(), threading.Event()

    def __call__(self) -> MerkleTree:
        self.started.set()
        assert self.finish.wait(timeout=30)
        return MerkleTree(holders(3))


def test_while_a_tree_is_being_built_any_other_tree_not_kept_is_refused_as_busy():
    cache, held, build = TreeCache(), HeldBuild(), Builds()
    cache.get(("kept", "r"), build)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(cache.get, ("s1", "root"), held)
        assert held.started.wait(timeout=30)
        # The same snapshot and another one: told to come back, neither queued nor built.
        for key in (("s1", "root"), ("s2", "root")):
            with pytest.raises(Busy, match="ask again in") as refusal:
                cache.get(key, build)
            assert refusal.value.retry_after > 0
        assert cache.get(("kept", "r"), build) is not None  # a kept tree is still served
        held.finish.set()
        tree = first.result()
    assert cache.get(("s1", "root"), build) is tree
    assert build.calls == 1  # only "kept": the busy requests built nothing


def test_concurrent_first_requests_for_one_snapshot_build_its_tree_once():
    cache, build = TreeCache(), Builds(count=3000)
    start = threading.Barrier(8)

    def ask() -> MerkleTree | None:
        start.wait()
        try:
            return cache.get(("s1", "root"), build)
        except Busy:
            return None

    with ThreadPoolExecutor(8) as pool:
        trees = [t for t in pool.map(lambda _: ask(), range(8)) if t is not None]
    assert build.calls == 1 and trees
    assert all(tree is trees[0] for tree in trees)
    assert cache.get(("s1", "root"), build) is trees[0]


def test_an_altered_snapshot_stays_refused_without_being_built_again():
    cache, calls = TreeCache(), []

    def altered() -> MerkleTree:
        calls.append(1)
        raise Refused("snapshot: this snapshot's table has been altered")

    for _ in range(3):
        with pytest.raises(Refused, match="altered"):
            cache.get(("s1", "root"), altered)
    assert len(calls) == 1 and cache.cache_info().kept == 0


def test_a_failed_read_keeps_nothing_and_the_next_request_builds_again():
    cache, build = TreeCache(), Builds()

    def unreachable() -> MerkleTree:
        raise DatabaseUnavailable("database: cannot be reached")

    with pytest.raises(DatabaseUnavailable):
        cache.get(("s1", "root"), unreachable)
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
