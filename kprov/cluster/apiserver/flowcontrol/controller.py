"""The APF filter: every authenticated request (after impersonation, before authorization)
is classified, waits for a seat of its priority level or is refused with 429, and carries
the ``X-Kubernetes-PF-FlowSchema-UID`` / ``X-Kubernetes-PF-PriorityLevel-UID`` headers.

The server's limit is ``--max-requests-inflight`` + ``--max-mutating-requests-inflight``
(400 + 200); each limited level gets ``ceil(limit * shares / sum of all levels' shares)``
seats (the nominal limits; borrowing between levels is not done). Long-running requests
other than watches (exec, attach, logs, port-forward, proxy) bypass the filter, as upstream;
a watch takes a seat only to start. Retry-After is 1 s, doubled (to 32 s at most) while a
level keeps refusing within the previous delay, as upstream's dropped-requests tracker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kprov.cluster.apiserver.authn import UserInfo
from kprov.cluster.apiserver.flowcontrol.classifier import Classification, Classifier, Level
from kprov.cluster.apiserver.flowcontrol.queueing import LevelState, nominal_seats
from kprov.cluster.apiserver.requestinfo import RequestInfo
from kprov.cluster.storage.keys import scope_prefix

__all__ = ["FLOW_SCHEMA_HEADER", "PRIORITY_LEVEL_HEADER", "Controller", "bypasses"]

FLOW_SCHEMA_HEADER = "X-Kubernetes-PF-FlowSchema-UID"
PRIORITY_LEVEL_HEADER = "X-Kubernetes-PF-PriorityLevel-UID"
_GROUP = "flowcontrol.apiserver.k8s.io"
_SCHEMAS = scope_prefix(_GROUP, "flowschemas")
_LEVELS = scope_prefix(_GROUP, "prioritylevelconfigurations")
_LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})
_MAX_RETRY_AFTER = 32
TOO_MANY = b"Too many requests, please try again later.\n"


def bypasses(ri: RequestInfo | None) -> bool:
    """Long-running requests other than watches skip APF (upstream's long-running check)."""
    return ri is not None and (ri.verb == "proxy" or ri.subresource in _LONG_RUNNING_SUBRESOURCES)


class _RetryAfter:
    def __init__(self) -> None:
        self.value = 1
        self._last_drop = 0.0

    def drop(self, now: float) -> int:
        if self._last_drop and now - self._last_drop < self.value:
            self.value = min(_MAX_RETRY_AFTER, self.value * 2) if now - self._last_drop >= 1 else self.value
        elif self._last_drop and now - self._last_drop > 2 * self.value:
            self.value = max(1, self.value // 2)
        self._last_drop = now
        return self.value


class Controller:
    """One per server process: the classifier, the levels' live state, the counters."""

    def __init__(
        self, lookup: Callable[[str], list[dict[str, Any]]], server_limit: int, wait_limit_s: float = 15.0
    ) -> None:
        self._lookup = lookup  # the watch cache's scope()
        self.server_limit = server_limit
        self.wait_limit_s = wait_limit_s
        self.classifier = Classifier()
        self.states: dict[str, LevelState] = {}
        self._levels: object = None
        self._retry: dict[str, _RetryAfter] = {}
        self.wait_seconds: list[tuple[str, str, float]] = []  # (level, schema, seconds), drained by metrics

    def classify(
        self, user: UserInfo, ri: RequestInfo | None, method: str, path: str
    ) -> Classification | None:
        self.classifier.refresh(self._lookup(_SCHEMAS), self._lookup(_LEVELS))
        levels = self.classifier.levels
        if levels is not self._levels:
            self._resize(levels)
        return self.classifier.classify(user, ri, method, path)

    def _resize(self, levels: Any) -> None:
        self._levels = levels
        total = sum(level.shares for level in levels.values())
        states: dict[str, LevelState] = {}
        for name, level in levels.items():
            seats = nominal_seats(self.server_limit, level.shares, total) if not level.exempt else 0
            old = self.states.get(name)
            if old is not None and old.level == level:
                old.resize(seats)
                states[name] = old
            else:
                states[name] = LevelState(level, seats)
        self.states = states

    def state(self, level: Level) -> LevelState:
        found = self.states.get(level.name)
        if found is None or found.level is not level:
            found = self.states[level.name] = LevelState(level, 1)
        return found

    async def acquire(self, classification: Classification) -> LevelState | None:
        """The level's state with a seat taken; None: refused (429)."""
        state = self.state(classification.level)
        if state.try_start():
            return state
        waiter = state.enqueue(classification.flow)
        if waiter is None:
            return None
        started = time.monotonic()
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.wait_limit_s)
        except TimeoutError:
            if waiter.done():  # (a seat came at the last moment)
                return state
            waiter.cancel()
            state.give_up(waiter)
            return None
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                state.finish()
            else:
                waiter.cancel()
                state.give_up(waiter)
            raise
        self.wait_seconds.append((state.level.name, classification.schema.name, time.monotonic() - started))
        if len(self.wait_seconds) > 10_000:
            del self.wait_seconds[:5_000]
        return state

    def retry_after(self, level: str) -> int:
        tracker = self._retry.get(level)
        if tracker is None:
            tracker = self._retry[level] = _RetryAfter()
        return tracker.drop(time.monotonic())

    async def serve(
        self,
        user: UserInfo,
        ri: RequestInfo | None,
        method: str,
        path: str,
        headers_out: dict[str, str],
        call: Callable[[], Awaitable[Any]],
        refuse: Callable[[int], Any],
    ) -> Any:
        """Run ``call`` under the request's level; ``refuse(retry_after)`` builds the 429."""
        classification = self.classify(user, ri, method, path)
        if classification is None:
            return await call()
        headers_out[FLOW_SCHEMA_HEADER] = classification.schema.uid
        headers_out[PRIORITY_LEVEL_HEADER] = classification.level.uid
        state = await self.acquire(classification)
        if state is None:
            return refuse(self.retry_after(classification.level.name))
        if ri is not None and ri.verb == "watch":  # a seat only to start
            state.finish()
            return await call()
        try:
            return await call()
        finally:
            state.finish()
