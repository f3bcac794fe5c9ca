"""The paginated lists' kept snapshots: found by (prefix, revision), bounded in number and age."""

from __future__ import annotations

from kprov.cluster.storage.list_snapshots import ListSnapshots


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_snapshot_is_found_by_prefix_and_revision() -> None:
    kept = ListSnapshots()
    keys, objects = ["/r/a", "/r/b"], [{"n": "a"}, {"n": "b"}]
    kept.put("/r/", 7, keys, objects)
    assert kept.get("/r/", 7) == (keys, objects)
    assert kept.get("/r/", 8) is None and kept.get("/s/", 7) is None
    assert (kept.hits, kept.misses) == (1, 2)


def test_at_most_capacity_are_kept_the_least_recently_used_go_first() -> None:
    kept = ListSnapshots(capacity=2)
    for revision in (1, 2):
        kept.put("/r/", revision, [], [])
    assert kept.get("/r/", 1) is not None  # used: 2 is now the least recent
    kept.put("/r/", 3, [], [])
    assert len(kept) == 2 and kept.get("/r/", 2) is None and kept.get("/r/", 1) is not None


def test_a_snapshot_unused_for_ttl_expires_and_use_keeps_it() -> None:
    clock = _Clock()
    kept = ListSnapshots(ttl_s=75, clock=clock)
    kept.put("/r/", 1, [], [])
    kept.put("/r/", 2, [], [])
    clock.now = 60
    assert kept.get("/r/", 1) is not None  # used at 60: kept until 135
    clock.now = 100
    assert kept.get("/r/", 2) is None and kept.get("/r/", 1) is not None
    clock.now = 176
    assert kept.get("/r/", 1) is None and len(kept) == 0
