"""Exponential back-off per key (pod uid + container, or an image): 10 s doubling to 5 min.

Same policy as the real kubelet's CrashLoopBackOff: the first restart after an exit is
immediate and starts the back-off at 10 s; each later restart inside the back-off window
waits the current delay, which then doubles, capped at 5 minutes. A key that stayed quiet
for twice the maximum is forgotten (its next failure starts at 10 s again). Time is
passed in (monotonic seconds), so tests drive it without sleeping.

:func:`sync_retry_delay` is the pod worker's flat retry after a failed start that no
back-off above covers (CreateContainerConfigError, CreateContainerError): upstream requeues
the pod after ``backOffPeriod`` (10 s) with 50 % jitter, without doubling.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "INITIAL_DELAY_S", "MAX_DELAY_S", "SYNC_RETRY_JITTER", "SYNC_RETRY_S", "Backoff", "sync_retry_delay",
]

INITIAL_DELAY_S = 10.0
MAX_DELAY_S = 300.0
SYNC_RETRY_S = 10.0  # upstream kubelet's backOffPeriod: a pod worker's retry after a failed sync
SYNC_RETRY_JITTER = 0.5  # workerBackOffPeriodJitterFactor


def sync_retry_delay(rand: Callable[[], float] = random.random) -> float:
    """The wait before retrying a failed sync: 10 s plus up to 50 % (wait.Jitter)."""
    return SYNC_RETRY_S * (1.0 + SYNC_RETRY_JITTER * rand())


@dataclass
class _Entry:
    delay: float
    last: float


@dataclass
class Backoff:
    initial: float = INITIAL_DELAY_S
    maximum: float = MAX_DELAY_S
    _entries: dict[str, _Entry] = field(default_factory=dict)

    def _fresh(self, key: str, now: float) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and now - entry.last > 2 * self.maximum:
            del self._entries[key]
            return None
        return entry

    def remaining(self, key: str, since: float, now: float) -> float:
        """Seconds still to wait before restarting, counting from ``since`` (the exit time)."""
        entry = self._fresh(key, now)
        if entry is None:
            return 0.0
        return max(0.0, since + entry.delay - now)

    def current_delay(self, key: str) -> float:
        entry = self._entries.get(key)
        return entry.delay if entry else 0.0

    def record(self, key: str, now: float) -> None:
        """A restart happens now: start or double the delay for the next one."""
        entry = self._fresh(key, now)
        if entry is None:
            self._entries[key] = _Entry(self.initial, now)
        else:
            entry.delay = min(self.maximum, entry.delay * 2)
            entry.last = now

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    def forget_prefix(self, prefix: str) -> None:
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]
