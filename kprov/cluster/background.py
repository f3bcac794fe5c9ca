"""Background loops that stop when asked, and a stop that cannot hang.

A long-running loop (the watch cache, the endpoint lease, the APIService checks) retries on
``Exception``. When its task is cancelled inside a gRPC call, the cancellation does not
always come back as ``CancelledError``: the call may end with a CANCELLED status error (or
``asyncio.wait_for`` in Python 3.11 may lose it), the loop takes that for one more failed
round, and goes on for ever — an API server once sat in shutdown for good that way, still
listening, after SIGTERM. So the loops ask :func:`stop_requested` before retrying, and
:func:`stop_tasks` bounds the wait for them anyway, naming any that did not end.
"""

from __future__ import annotations

import asyncio
import logging

__all__ = ["stop_requested", "stop_tasks"]

_log = logging.getLogger(__name__)


def stop_requested() -> bool:
    """True when the running task has been cancelled, even if the CancelledError was turned
    into another exception on its way up (``Task.cancelling()``: the requests not withdrawn)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def stop_tasks(*tasks: asyncio.Task[object] | None, timeout_s: float = 5.0) -> None:
    """Cancel ``tasks`` and wait up to ``timeout_s`` for them to end (their exceptions are
    theirs to log); a task still running then is logged by name and left behind."""
    running = [task for task in tasks if task is not None and not task.done()]
    for task in running:
        task.cancel()
    if not running:
        return
    _done, pending = await asyncio.wait(running, timeout=timeout_s)
    for task in pending:
        _log.warning("background task %s did not stop within %.0fs of its cancellation",
                     task.get_name(), timeout_s)
