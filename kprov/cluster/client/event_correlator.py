"""What client-go's EventCorrelator does to every Event before it reaches the API server.

Three steps, in upstream's order, each with upstream's defaults (tools/record/events_cache.go):

1. **Aggregation**: events that differ only by message (same source, object, type, reason,
   reporting controller and instance) are counted by distinct message over a rolling
   10 minutes; from the 10th distinct message on, the event is replaced by one whose message
   is ``(combined from similar events): <message>`` and whose key is the group's key, so
   all later variants fold into that one Event.
2. **De-duplication**: an event whose full key (source, object incl. fieldPath, type,
   reason, message) was seen before becomes a patch of the earlier Event: same name and
   firstTimestamp, ``count`` + 1, new ``lastTimestamp`` (and message).
3. **Spam filter**: a token bucket per source + object (burst 25, refilled one token every
   5 minutes); an event (create or patch) without a token is dropped.

The correlator is pure bookkeeping with an injected clock (seconds); the recorder
(:mod:`.events`) does the writes. Caches are LRU-bounded (4096 entries each).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = [
    "AGGREGATE_INTERVAL_S",
    "AGGREGATE_MAX_EVENTS",
    "AGGREGATE_PREFIX",
    "SPAM_BURST",
    "SPAM_QPS",
    "Correlated",
    "EventCorrelator",
    "TokenBucket",
]

CACHE_ENTRIES = 4096
AGGREGATE_MAX_EVENTS = 10
AGGREGATE_INTERVAL_S = 600.0
AGGREGATE_PREFIX = "(combined from similar events): "
SPAM_BURST = 25
SPAM_QPS = 1.0 / 300.0

Event = dict[str, Any]
V = TypeVar("V")


class _Lru(Generic[V]):
    def __init__(self, size: int) -> None:
        self._items: OrderedDict[str, V] = OrderedDict()
        self._size = size

    def get(self, key: str) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self._size:
            self._items.popitem(last=False)


@dataclass
class TokenBucket:
    """``burst`` tokens, refilled at ``qps`` per second (client-go's token bucket limiter)."""

    burst: int
    qps: float
    tokens: float
    last: float

    def try_accept(self, now: float) -> bool:
        self.tokens = min(float(self.burst), self.tokens + (now - self.last) * self.qps)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class _Aggregate:
    messages: set[str]
    last: float


@dataclass
class _Seen:
    count: int
    first_timestamp: str
    name: str


@dataclass(frozen=True)
class Correlated:
    """The event to write; ``patch`` set when it updates an Event already written."""

    event: Event
    patch: dict[str, Any] | None
    key: str
    skip: bool = False


def _object(event: Event) -> list[str]:
    ref = event.get("involvedObject") or {}
    return [str(ref.get(k, "")) for k in ("kind", "namespace", "name", "uid", "apiVersion")]


def _source(event: Event) -> list[str]:
    source = event.get("source") or {}
    return [str(source.get("component", "")), str(source.get("host", ""))]


def event_key(event: Event) -> str:
    ref = event.get("involvedObject") or {}
    kind, namespace, name, uid, api_version = _object(event)
    parts = [*_source(event), kind, namespace, name, str(ref.get("fieldPath", "")), uid, api_version,
             str(event.get("type", "")), str(event.get("reason", "")), str(event.get("message", ""))]
    return "\x00".join(parts)


def spam_key(event: Event) -> str:
    return "\x00".join([*_source(event), *_object(event)])


def aggregate_key(event: Event) -> str:
    parts = [*_source(event), *_object(event), str(event.get("type", "")), str(event.get("reason", "")),
             str(event.get("reportingComponent", "")), str(event.get("reportingInstance", ""))]
    return "\x00".join(parts)


@dataclass
class EventCorrelator:
    clock: Callable[[], float]
    burst: int = SPAM_BURST
    qps: float = SPAM_QPS
    max_events: int = AGGREGATE_MAX_EVENTS
    interval_s: float = AGGREGATE_INTERVAL_S
    _aggregates: _Lru[_Aggregate] = field(default_factory=lambda: _Lru(CACHE_ENTRIES))
    _seen: _Lru[_Seen] = field(default_factory=lambda: _Lru(CACHE_ENTRIES))
    _buckets: _Lru[TokenBucket] = field(default_factory=lambda: _Lru(CACHE_ENTRIES))

    def correlate(self, event: Event) -> Correlated:
        """``event`` (a complete core/v1 Event with a fresh name, count 1) as it should be
        written: created, patched onto an earlier one, or skipped."""
        now = self.clock()
        event, key = self._aggregate(event, now)
        event, patch = self._observe(event, key)
        if not self._allowed(event, now):
            return Correlated(event, None, key, skip=True)
        return Correlated(event, patch, key)

    def forget(self, key: str) -> None:
        """The Event written under ``key`` is gone or was never written: start it afresh."""
        self._seen.put(key, _Seen(0, "", ""))

    def _aggregate(self, event: Event, now: float) -> tuple[Event, str]:
        group = aggregate_key(event)
        record = self._aggregates.get(group)
        if record is None or now - record.last > self.interval_s:
            record = _Aggregate(set(), now)
        record.messages.add(str(event.get("message", "")))
        record.last = now
        self._aggregates.put(group, record)
        if len(record.messages) < self.max_events:
            return event, event_key(event)
        record.messages.pop()  # the set never grows past the maximum
        combined = {k: v for k, v in event.items() if k not in ("action", "reportingComponent",
                                                                   "reportingInstance")}
        combined["message"] = AGGREGATE_PREFIX + str(event.get("message", ""))
        return combined, group

    def _observe(self, event: Event, key: str) -> tuple[Event, dict[str, Any] | None]:
        seen = self._seen.get(key)
        if seen is None or seen.count == 0:
            self._seen.put(key, _Seen(int(event.get("count") or 1), str(event.get("firstTimestamp", "")),
                                      str((event.get("metadata") or {}).get("name", ""))))
            return event, None
        count = seen.count + 1
        metadata = {**(event.get("metadata") or {}), "name": seen.name}
        updated = {**event, "metadata": metadata, "firstTimestamp": seen.first_timestamp, "count": count}
        self._seen.put(key, _Seen(count, seen.first_timestamp, seen.name))
        patch = {"count": count, "lastTimestamp": event.get("lastTimestamp"), "message": event.get("message")}
        return updated, patch

    def _allowed(self, event: Event, now: float) -> bool:
        key = spam_key(event)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self.burst, self.qps, float(self.burst), now)
        accepted = bucket.try_accept(now)
        self._buckets.put(key, bucket)
        return accepted
