"""The EndpointSlice controller's record of its own writes, against which the cache is judged."""

from __future__ import annotations

from typing import Any

from kprov.cluster.controllers.network.endpointslice_tracker import SliceTracker


def _slice(name: str, rv: int) -> dict[str, Any]:
    return {"metadata": {"name": name, "resourceVersion": str(rv)}}


def test_a_cache_without_a_written_slice_or_with_an_older_one_is_stale() -> None:
    tracker = SliceTracker()
    assert not tracker.stale("ns/svc", [])
    tracker.wrote("ns/svc", _slice("svc-a", 10))
    assert tracker.stale("ns/svc", [])  # created, not seen yet: a sync now would make it again
    assert not tracker.stale("ns/other", [])
    assert not tracker.stale("ns/svc", [_slice("svc-a", 10)])
    tracker.wrote("ns/svc", _slice("svc-a", 12))
    assert tracker.stale("ns/svc", [_slice("svc-a", 10)])  # updated (ports), the cache has the old one
    assert not tracker.stale("ns/svc", [_slice("svc-a", 15)])  # someone else wrote it since: fine


def test_a_deleted_slice_still_cached_is_stale_until_its_deletion_is_seen() -> None:
    tracker = SliceTracker()
    tracker.wrote("ns/svc", _slice("svc-a", 10))
    tracker.deleting("ns/svc", "svc-a")
    assert tracker.stale("ns/svc", [_slice("svc-a", 10)])
    assert not tracker.stale("ns/svc", [])
    tracker.wrote("ns/svc", _slice("svc-b", 20))
    tracker.observed_deletion("ns/svc", "svc-b")  # deleted by someone else: not waited for
    assert not tracker.stale("ns/svc", [])
    tracker.wrote("ns/svc", _slice("svc-c", 30))
    tracker.forget("ns/svc")
    assert not tracker.stale("ns/svc", [])
