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

from kprov.cluster.apiserver.flowcontrol.classifier import Classification, Classifier, Level
from kprov.cluster.apiserver.flowcontrol.metrics import FlowcontrolMetrics
from kprov.cluster.apiserver.flowcontrol.queueing import LevelState, Ticket, nominal_seats
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.requestinfo import RequestInfo
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
    """1 s; doubled (at most once a second, to 32 s) while refusals keep coming within the
    current delay; back to 1 s after a quiet spell of twice the delay."""

    def __init__(self) -> None:
        self.value = 1
        self._last_drop = 0.0
        self._raised = 0.0

    def drop(self, now: float) -> int:
        since = now - self._last_drop if self._last_drop else None
        if since is not None and since > 2 * self.value:
            self.value = 1
        elif since is not None and since < self.value and now - self._raised >= 1:
            self.value, self._raised = min(_MAX_RETRY_AFTER, self.value * 2), now
        self._last_drop = now
        return self.value


class Controller:
    """One per server process: the classifier, the levels' live state, the counters."""

    def __init__(
        self,
        lookup: Callable[[str], list[dict[str, Any]]],
        server_limit: int,
        wait_limit_s: float = 15.0,
        changes: Callable[[str], object] | None = None,
    ) -> None:
        self._lookup = lookup  # the watch cache's scope()
        self._changes = changes  # the watch cache's changes(): the objects are read when it moves
        self._seen: object = None
        self.server_limit = server_limit
        self.wait_limit_s = wait_limit_s
        self.classifier = Classifier()
        self.states: dict[str, LevelState] = {}
        self._levels: object = None
        self._retry: dict[str, _RetryAfter] = {}
        self.metrics = FlowcontrolMetrics()

    def classify(
        self, user: UserInfo, ri: RequestInfo | None, method: str, path: str
    ) -> Classification | None:
        mark = (self._changes(_SCHEMAS), self._changes(_LEVELS)) if self._changes else None
        if mark is None or mark != self._seen:
            self.classifier.refresh(self._lookup(_SCHEMAS), self._lookup(_LEVELS))
            self._seen = mark
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

    async def acquire(
        self, classification: Classification, ticket: Ticket | None = None
    ) -> LevelState | None:
        """The level's state with a seat taken; None: refused (429). Counted in :attr:`metrics`;
        ``ticket`` is kept by the level while the request waits or holds its seat."""
        state = self.state(classification.level)
        key = (classification.schema.name, classification.level.name)
        metrics = self.metrics
        if state.try_start(ticket):
            metrics.wait(key, True, 0.0)
            return state
        rejected_before = dict(state.rejected)
        waiter = state.enqueue(classification.flow, ticket)
        if waiter is None:
            metrics.reject(key, _new_reason(rejected_before, state.rejected))
            metrics.wait(key, False, 0.0)
            return None
        started = time.monotonic()
        metrics.add(metrics.inqueue, key, 1)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.wait_limit_s)
        except TimeoutError:
            if not waiter.done():
                waiter.cancel()
                state.give_up(waiter)
                metrics.reject(key, "time-out")
                metrics.wait(key, False, time.monotonic() - started)
                return None
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                state.finish(ticket)
            else:
                waiter.cancel()
                state.give_up(waiter, cancelled=True)
            raise
        finally:
            metrics.add(metrics.inqueue, key, -1)
        metrics.wait(key, True, time.monotonic() - started)
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
        schema = classification.schema
        ticket = Ticket(
            schema.name,
            classification.flow.partition("\x00")[2],
            user.name,
            ri,
            ri.verb if ri is not None else method.lower(),
            path,
            time.time_ns(),
        )
        state = await self.acquire(classification, ticket)
        if state is None:
            return refuse(self.retry_after(classification.level.name))
        key = (schema.name, classification.level.name)
        metrics = self.metrics
        metrics.add(metrics.dispatched, key, 1)
        if ri is not None and ri.verb == "watch":  # a seat only to start
            state.finish(ticket)
            return await call()
        metrics.add(metrics.executing, key, 1)
        try:
            return await call()
        finally:
            metrics.add(metrics.executing, key, -1)
            state.finish(ticket)

    def nominal_seats(self) -> dict[str, int]:
        return {name: state.seats for name, state in self.states.items()}


def _new_reason(before: dict[str, int], after: dict[str, int]) -> str:
    for reason, count in after.items():
        if count != before.get(reason, 0):
            return reason
    return "concurrency-limit"
