"""Seats and fair queuing for one priority level.

A level has ``seats`` concurrent requests (its nominal concurrency limit). A request that
finds a free seat and nobody waiting runs at once (no await: the hot path is a counter). A
``Reject`` level refuses it otherwise; a ``Queue`` level deals the flow a hand of
``handSize`` queues out of ``queues`` (shuffle sharding: a 64-bit hash of the flow, drawn
without replacement as upstream's dealer) and puts it on the shortest, or refuses it when
that queue already holds ``queueLengthLimit``. A freed seat goes to the head of the next
non-empty queue in round-robin order, which is upstream's fair queuing for requests of one
seat each (upstream orders queues by virtual finish time, which for equal-cost requests is
the same rotation). A waiter that is not dispatched within the wait limit is refused too.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections import deque
from dataclasses import dataclass, field

from kprov.cluster.apiserver.flowcontrol.classifier import Level

__all__ = ["LevelState", "deal_hand", "nominal_seats"]

_HAND_MEMO_MAX = 10_000


def nominal_seats(server_limit: int, shares: int, total_shares: int) -> int:
    """A limited level's nominal concurrency limit: its share of the server's, rounded up."""
    if total_shares <= 0:
        return server_limit
    return max(1, math.ceil(server_limit * shares / total_shares)) if shares else 0


def deal_hand(flow: str, deck_size: int, hand_size: int) -> list[int]:
    """``hand_size`` distinct queue indexes out of ``deck_size``, from the flow's hash."""
    value = int.from_bytes(hashlib.blake2b(flow.encode(), digest_size=8).digest(), "big")
    chosen: list[int] = []
    for i in range(min(hand_size, deck_size)):
        remaining = deck_size - i
        value, card = divmod(value, remaining)
        for taken in sorted(chosen):  # the card-th queue not yet dealt
            if taken <= card:
                card += 1
        chosen.append(card)
    return chosen


@dataclass
class _Queue:
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)


class LevelState:
    """The live state of one priority level: seats in use, its queues, its counters."""

    def __init__(self, level: Level, seats: int) -> None:
        self.level = level
        self.seats = seats
        self.executing = 0
        self.waiting = 0
        self.dispatched = 0
        self.rejected: dict[str, int] = {}  # reason ("queue-full", "concurrency-limit", "time-out")
        self._queues = [_Queue() for _ in range(level.queues)]
        self._turn = 0
        self._hands: dict[str, list[int]] = {}

    def try_start(self) -> bool:
        """A seat now, when one is free and nobody waits for it."""
        if self.level.exempt or (self.executing < self.seats and not self.waiting):
            self.executing += 1
            self.dispatched += 1
            return True
        return False

    def enqueue(self, flow: str) -> asyncio.Future[None] | None:
        """A future that resolves when the request is given a seat; None: refused now."""
        if not self._queues:
            self._reject("concurrency-limit")
            return None
        hand = self._hands.get(flow)
        if hand is None:
            if len(self._hands) > _HAND_MEMO_MAX:
                self._hands.clear()
            hand = self._hands[flow] = deal_hand(flow, len(self._queues), self.level.hand_size)
        queue = min((self._queues[i] for i in hand), key=lambda q: len(q.waiters))
        if len(queue.waiters) >= self.level.queue_length_limit:
            self._reject("queue-full")
            return None
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.waiters.append(waiter)
        self.waiting += 1
        return waiter

    def give_up(self, waiter: asyncio.Future[None]) -> None:
        """A waiter's wait limit passed before a seat came."""
        for queue in self._queues:
            if waiter in queue.waiters:
                queue.waiters.remove(waiter)
                self.waiting -= 1
                break
        self._reject("time-out")

    def finish(self) -> None:
        """A request left its seat: hand seats to waiters, fairly across queues."""
        self.executing -= 1
        self._dispatch()

    def resize(self, seats: int) -> None:
        self.seats = seats
        self._dispatch()

    def queue_lengths(self) -> list[int]:
        return [len(q.waiters) for q in self._queues]

    def _dispatch(self) -> None:
        count = len(self._queues)
        while self.waiting and self.executing < self.seats:
            for step in range(count):
                queue = self._queues[(self._turn + step) % count]
                if queue.waiters:
                    self._turn = (self._turn + step + 1) % count
                    waiter = queue.waiters.popleft()
                    self.waiting -= 1
                    if not waiter.done():
                        self.executing += 1
                        self.dispatched += 1
                        waiter.set_result(None)
                    break
            else:  # (no waiter anywhere: the count is off; never spin)
                self.waiting = 0

    def _reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
