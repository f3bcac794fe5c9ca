"""A host's probe results of this run: read once, reused until a task may have changed the host.

A probe is a read-only command a module sends to learn the host's state (a file's stat and
checksum, a unit's ``systemctl show``, a package query); see ``ModuleContext.probe``. Its
output is a fact about the host, keyed by the exact command (and become settings), so it
stays true for as long as nothing changes the host. The engine reads a play's probes ahead
in one round trip (execute.prefetch) and keeps every probe a module runs live.

Invalidation is by the tasks' own verdicts (TaskRunner.settle): after a task that changed
the host, failed, acted without the module vouching it changed nothing, or lost the host,
the whole cache is dropped, so later tasks probe live and see the change. A task that
reported ``ok`` changed nothing (the contract of idempotent modules, and of ``changed_when``
for commands), so the host's state is still what the cache holds. ``generation`` counts
the drops; ``covered`` holds the tasks whose probes were predicted and read since the last
one (the look-ahead predicts again only for the others). ``window`` is when a prefetched
result was read (the batch's start and end, wall clock): a phase that reads a probe ahead
for its clock (kprov's preflight) learns how precise that read is.

Thread-safe: a task of another host delegated to this one may drop it.
"""

from __future__ import annotations

import threading

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.base import ProbeKey

__all__ = ["ProbeCache"]


class ProbeCache:
    def __init__(self) -> None:
        self._results: dict[ProbeKey, CommandResult] = {}
        self._covered: set[int] = set()
        self._windows: dict[ProbeKey, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self.generation = 0

    def get(self, key: ProbeKey) -> CommandResult | None:
        with self._lock:
            return self._results.get(key)

    def store(self, key: ProbeKey, result: CommandResult) -> None:
        with self._lock:
            self._results[key] = result

    def store_all(self, results: dict[ProbeKey, CommandResult], generation: int,
                  tasks: set[int] | frozenset[int] = frozenset(),
                  window: tuple[float, float] | None = None) -> bool:
        """Keep results read while the cache was at ``generation`` (False: dropped since),
        and mark ``tasks`` (uids) as covered by them; ``window``: when they were read."""
        with self._lock:
            if generation != self.generation:
                return False
            self._results.update(results)
            self._covered.update(tasks)
            if window is not None:
                self._windows.update(dict.fromkeys(results, window))
            return True

    def window(self, key: ProbeKey) -> tuple[float, float] | None:
        """When a prefetched result still held was read (None: not held, or read live)."""
        with self._lock:
            return self._windows.get(key) if key in self._results else None

    def covers(self, task_uid: int) -> bool:
        with self._lock:
            return task_uid in self._covered

    def __contains__(self, key: ProbeKey) -> bool:
        with self._lock:
            return key in self._results

    def invalidate(self) -> None:
        with self._lock:
            self._results.clear()
            self._covered.clear()
            self._windows.clear()
            self.generation += 1
