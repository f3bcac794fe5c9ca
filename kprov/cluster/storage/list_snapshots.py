"""Paginated lists served from the watch cache: the snapshot a first page came from, kept.

A list with ``limit`` takes its first page from the watch cache at revision R. The objects
of that snapshot are immutable (the cache never mutates an object, it replaces it), so
keeping the sorted key list and the list of objects - two lists of references, ~16 bytes
per object - is enough to serve every following page (``continue``) exactly as etcd would
at R, without reading etcd: before this, each continue page was an etcd range at R, and a
cluster-wide list of 60,000 pods in pages of 500 was 120 etcd reads of a page each.

Snapshots are kept per (prefix, revision), at most ``capacity`` of them, each for
``ttl_s`` after its last use (about as long as upstream keeps its cache snapshots); a continue token
whose snapshot is gone (expired, another API server, a restart) is served from etcd at R,
as before. One per WatchCache, never shared between processes.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = ["ListSnapshots"]

Snapshot = tuple[list[str], list[dict[str, Any]]]


class ListSnapshots:
    def __init__(
        self, capacity: int = 64, ttl_s: float = 75.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = capacity
        self.ttl_s = ttl_s
        self._clock = clock
        self._kept: OrderedDict[tuple[str, int], tuple[float, Snapshot]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def put(self, prefix: str, revision: int, keys: list[str], objects: list[dict[str, Any]]) -> None:
        """Keep the snapshot a first page came from (``keys`` sorted, ``objects`` in that order)."""
        self._expire()
        self._kept[(prefix, revision)] = (self._clock(), (keys, objects))
        self._kept.move_to_end((prefix, revision))
        while len(self._kept) > self.capacity:
            self._kept.popitem(last=False)

    def get(self, prefix: str, revision: int) -> Snapshot | None:
        self._expire()
        found = self._kept.get((prefix, revision))
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self._kept[(prefix, revision)] = (self._clock(), found[1])
        self._kept.move_to_end((prefix, revision))
        return found[1]

    def _expire(self) -> None:
        oldest = self._clock() - self.ttl_s
        while self._kept:
            used, _ = next(iter(self._kept.values()))
            if used >= oldest:
                return
            self._kept.popitem(last=False)

    def __len__(self) -> int:
        return len(self._kept)
