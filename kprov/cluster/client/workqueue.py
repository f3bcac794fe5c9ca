"""A deduplicating, rate-limited work queue (the client-go workqueue semantics, on asyncio).

- :meth:`WorkQueue.add` puts a key once: a key already waiting is not added again.
- :meth:`WorkQueue.get` hands a key to one worker and marks it *processing*; a key being
  processed is never handed out twice. Adding it meanwhile marks it dirty, and it goes
  back on the queue only when the worker calls :meth:`WorkQueue.done`.
- :meth:`WorkQueue.add_rate_limited` re-adds after a per-key exponential backoff
  (base * 2^failures, capped); :meth:`WorkQueue.forget` resets the key's failure count.
- :meth:`WorkQueue.add_after` re-adds after a fixed delay (for "check again later").
- ``name``, ``adds``, ``len()`` and ``work`` (get -> done seconds) are what the workqueue_*
  metrics report (:class:`~.metrics.WorkQueueCollector`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from time import perf_counter

from kprov.cluster.client.metrics import QUEUE_BUCKETS, Histogram

__all__ = ["QueueShutDown", "WorkQueue"]


class QueueShutDown(Exception):
    """Raised by get() once the queue is shut down."""


class WorkQueue:
    def __init__(self, base_delay: float = 0.005, max_delay: float = 60.0, name: str = "") -> None:
        self.name = name  # workqueue_* metrics' label
        self.adds = 0  # keys queued (not the duplicates of a waiting key)
        self.work = Histogram(QUEUE_BUCKETS)  # get() -> done() seconds
        self._started: dict[Hashable, float] = {}
        self._queue: deque[Hashable] = deque()
        self._dirty: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._failures: dict[Hashable, int] = {}
        self._timers: dict[Hashable, asyncio.TimerHandle] = {}
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._shutting_down = False

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def processing(self) -> frozenset[Hashable]:
        return frozenset(self._processing)

    def _notify(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def add(self, key: Hashable) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        self.adds += 1
        if key in self._processing:
            return  # deferred: done() re-queues it
        self._queue.append(key)
        self._notify()

    def add_after(self, key: Hashable, delay: float) -> None:
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        existing = self._timers.get(key)
        due = loop.time() + delay
        if existing is not None:
            if existing.when() <= due:
                return  # an earlier re-add is already scheduled
            existing.cancel()

        def fire() -> None:
            self._timers.pop(key, None)
            self.add(key)

        self._timers[key] = loop.call_at(due, fire)

    def delayed(self) -> int:
        """Keys waiting for a delayed re-add (a backoff or add_after)."""
        return len(self._timers)

    def backoff(self, key: Hashable) -> float:
        """The delay the next add_rate_limited(key) will use."""
        return min(self._base_delay * (2 ** self._failures.get(key, 0)), self._max_delay)

    def add_rate_limited(self, key: Hashable) -> None:
        delay = self.backoff(key)
        self._failures[key] = self._failures.get(key, 0) + 1
        self.add_after(key, delay)

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: Hashable) -> int:
        return self._failures.get(key, 0)

    async def get(self) -> Hashable:
        while not self._queue:
            if self._shutting_down:
                raise QueueShutDown()
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._notify()  # pass the wake-up on to another worker
                raise
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        self._started[key] = perf_counter()
        return key

    def done(self, key: Hashable) -> None:
        self._processing.discard(key)
        started = self._started.pop(key, None)
        if started is not None:
            self.work.observe(perf_counter() - started)
        if key in self._dirty:
            self._queue.append(key)
            self._notify()

    def shutdown(self) -> None:
        self._shutting_down = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
