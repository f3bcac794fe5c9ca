"""The reconcile loop: N workers taking keys from a work queue and reconciling them.

A reconcile function gets a key and returns nothing (done), or a number of seconds after
which the key should be looked at again. An exception re-queues the key with the queue's
per-key exponential backoff; success forgets the key's failure count. Because the queue
never hands one key to two workers, a reconciler never races with itself on one object.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable

from kprov.cluster.client.errors import Conflict
from kprov.cluster.client.workqueue import QueueShutDown, WorkQueue

__all__ = ["Reconcile", "run_workers"]

log = logging.getLogger(__name__)

Reconcile = Callable[[Hashable], Awaitable[float | None]]


async def _worker(name: str, queue: WorkQueue, reconcile: Reconcile, max_retries: int | None) -> None:
    while True:
        try:
            key = await queue.get()
        except QueueShutDown:
            return
        try:
            again = await reconcile(key)
        except Exception as exc:
            if max_retries is not None and queue.num_requeues(key) >= max_retries:
                log.error("%s: giving up on %s after %d retries: %s", name, key, max_retries, exc)
                queue.forget(key)
            else:
                if isinstance(exc, Conflict):
                    log.debug("%s: conflict on %s, retrying", name, key)
                else:
                    log.warning("%s: reconcile %s failed: %s", name, key, exc, exc_info=log.isEnabledFor(10))
                queue.add_rate_limited(key)
        else:
            queue.forget(key)
            if again is not None:
                queue.add_after(key, again)
        finally:
            queue.done(key)


async def run_workers(
    name: str, queue: WorkQueue, reconcile: Reconcile, workers: int = 1, max_retries: int | None = None
) -> None:
    """Run ``workers`` concurrent reconcile loops until cancelled or the queue shuts down."""
    tasks = [asyncio.create_task(_worker(name, queue, reconcile, max_retries)) for _ in range(workers)]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
