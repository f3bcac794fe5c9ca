"""Recording Events off the caller's path: a bounded queue drained by a few writers.

kube-scheduler records events through client-go's broadcaster: recording only queues the
event, the writes happen in the background, and under overload the queue drops events
rather than slow the component down. :class:`EventQueue` does the same over an
:class:`~.events.EventRecorder`: :meth:`EventQueue.emit` never awaits; ``writers``
coroutines write the queued events in order, at most ``writers`` in flight, so events
never hold a request slot the component's own work (e.g. bindings) needs. Beyond
``max_queued`` waiting events new ones are dropped and counted (``dropped``).

Run :meth:`EventQueue.run` as a task (cancel it to stop); :meth:`EventQueue.flush` waits
until everything queued so far has been written.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kprov.cluster.client.events import EventRecorder

__all__ = ["EventQueue"]

log = logging.getLogger(__name__)

_Item = tuple[dict[str, Any], str, str, str]


class EventQueue:
    def __init__(self, recorder: EventRecorder, *, writers: int = 2, max_queued: int = 16384) -> None:
        self.recorder = recorder
        self.writers = max(1, writers)
        self.dropped = 0
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=max_queued)

    def emit(self, obj: dict[str, Any], event_type: str, reason: str, message: str) -> bool:
        """Queue an event; False (and counted in ``dropped``) when the queue is full."""
        try:
            self._queue.put_nowait((obj, event_type, reason, message))
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("event queue full: %d event(s) dropped so far", self.dropped)
            return False
        return True

    def pending(self) -> int:
        return self._queue.qsize()

    async def flush(self) -> None:
        """Wait until every event queued so far is written (needs run() going)."""
        await self._queue.join()

    async def _writer(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self.recorder.record(*item)
            except Exception:  # record() logs API errors itself; never let a writer die
                log.exception("recording event %s failed", item[2])
            finally:
                self._queue.task_done()

    async def run(self) -> None:
        await asyncio.gather(*(self._writer() for _ in range(self.writers)))
