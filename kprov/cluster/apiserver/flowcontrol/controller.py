"""The APF filter: every authenticated request (after impersonation, before authorization)
is classified, waits for a seat of its priority level or is refused with 429, and carries
the ``X-Kubernetes-PF-FlowSchema-UID`` / ``X-Kubernetes-PF-PriorityLevel-UID`` headers.

The server's limit is ``--max-requests-inflight`` + ``--max-mutating-requests-inflight``
(400 + 200); each limited level gets ``ceil(limit * shares / sum of all levels' shares)``
seats (the nominal limits; borrowing between levels is not done). Long-running requests
other than watches (exec, attach, logs, port-forward, proxy) bypass the filter, as upstream;
a watch takes a seat only to start. Retry-After is 1 s, doubled (to 32 s at most) while a
level keeps refusing within the previous delay, as upstream's dropped-requests tracker.

The fast path (a request shape seen before, a free seat, nobody waiting) is one dictionary
read and a few counter updates: a :class:`_Route` per request shape holds what its
classification resolves to (the level's live state, the two headers, the metrics' label pair
and wait histogram, the ticket's distinguisher and verb), and a free seat is taken without a
coroutine. The routes are forgotten whenever the objects or the levels' states change, so a
route never outlives what it was made from (upstream keeps the same per-request work cheap:
one matched schema per request, seats as counters while they are free).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kprov.cluster.apiserver.flowcontrol.classifier import Classification, Classifier, Level, request_key
from kprov.cluster.apiserver.flowcontrol.metrics import ZERO_WAIT_BUCKET, FlowcontrolMetrics, WaitHistogram
from kprov.cluster.apiserver.flowcontrol.queueing import LevelState, Ticket, nominal_seats
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.latency import count_outside
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
_ROUTES_MAX = 4096  # request shapes remembered (as the classifier's memo)
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


@dataclass(eq=False, slots=True)
class _Route:
    """A request shape's classification and what serving it touches."""

    classification: Classification
    state: LevelState
    pair: tuple[str, str]  # (flow schema, priority level): the metrics' labels
    schema_uid: str
    level_uid: str
    distinguisher: str
    verb: str  # the ticket's: the request info's verb, or the lower-case method
    watch: bool  # a watch holds its seat only to start
    waited: WaitHistogram | None = None  # ("true", *pair)'s, once a request of the pair ran


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
        self._routes: dict[tuple[Any, ...], _Route] = {}

    def classify(
        self, user: UserInfo, ri: RequestInfo | None, method: str, path: str
    ) -> Classification | None:
        self._follow_objects()
        return self.classifier.classify(user, ri, method, path)

    def _follow_objects(self) -> None:
        """The classifier and the levels' states brought up to the objects, when they moved."""
        changes = self._changes
        mark = (changes(_SCHEMAS), changes(_LEVELS)) if changes else None
        if mark is None or mark != self._seen:
            table = self.classifier.table
            self.classifier.refresh(self._lookup(_SCHEMAS), self._lookup(_LEVELS))
            self._seen = mark
            if self.classifier.table is not table:
                self._routes = {}
            levels = self.classifier.levels
            if levels is not self._levels:
                self._resize(levels)

    def _route(self, user: UserInfo, ri: RequestInfo | None, method: str, path: str) -> _Route | None:
        """The request's route (None: nothing is classified yet, the request is not limited)."""
        changes = self._changes
        if changes is None or (changes(_SCHEMAS), changes(_LEVELS)) != self._seen:
            self._follow_objects()
        key = request_key(user, ri, method, path)
        route = self._routes.get(key)
        if route is not None:
            return route
        classification = self.classifier.classify(user, ri, method, path)
        if classification is None:
            return None
        schema, level = classification.schema, classification.level
        state = self.state(level)  # (before the route is kept: a new state forgets the routes)
        route = _Route(
            classification, state, (schema.name, level.name), schema.uid, level.uid,
            classification.flow.partition("\x00")[2], ri.verb if ri is not None else method.lower(),
            ri is not None and ri.verb == "watch",
        )
        if len(self._routes) >= _ROUTES_MAX:
            self._routes = {}
        self._routes[key] = route
        return route

    def _resize(self, levels: Any) -> None:
        self._routes = {}  # (routes hold the states)
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
            self._routes = {}
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
                waited = time.monotonic() - started
                metrics.wait(key, False, waited)
                count_outside(waited)
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
        waited = time.monotonic() - started
        metrics.wait(key, True, waited)
        count_outside(waited)  # (left out of the request's SLI latency)
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
        route = self._route(user, ri, method, path)
        if route is None:
            return await call()
        headers_out[FLOW_SCHEMA_HEADER] = route.schema_uid
        headers_out[PRIORITY_LEVEL_HEADER] = route.level_uid
        pair = route.pair
        ticket = Ticket(pair[0], route.distinguisher, user.name, ri, route.verb, path, time.time_ns())
        state = route.state
        metrics = self.metrics
        if state.try_start(ticket):  # a free seat, nobody waiting: no coroutine, no lookup
            waited = route.waited
            if waited is None:
                waited = route.waited = metrics.wait_histogram(pair, True)
            waited.counts[ZERO_WAIT_BUCKET] += 1  # (observe(0.0): the sum is unchanged)
        else:
            seated = await self.acquire(route.classification, ticket)
            if seated is None:
                return refuse(self.retry_after(pair[1]))
            state = seated
        dispatched = metrics.dispatched
        dispatched[pair] = dispatched.get(pair, 0) + 1
        if route.watch:  # a seat only to start
            state.finish(ticket)
            return await call()
        executing = metrics.executing
        executing[pair] = executing.get(pair, 0) + 1
        try:
            return await call()
        finally:
            executing[pair] -= 1
            state.finish(ticket)

    def nominal_seats(self) -> dict[str, int]:
        return {name: state.seats for name, state in self.states.items()}


def _new_reason(before: dict[str, int], after: dict[str, int]) -> str:
    for reason, count in after.items():
        if count != before.get(reason, 0):
            return reason
    return "concurrency-limit"
