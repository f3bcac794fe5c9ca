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

Each request may bring a :class:`Ticket` (who sent what, when it arrived and was seated,
from which queue): the level keeps the waiting ones beside their futures and the seated
ones in :attr:`LevelState.seated`, which is all the ``/debug/api_priority_and_fairness/``
dumps read (:mod:`.debug_dump`).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import deque
from dataclasses import dataclass, field

from kprov.cluster.apiserver.flowcontrol.classifier import Level
from kprov.cluster.apiserver.request.requestinfo import RequestInfo

__all__ = ["LevelState", "Ticket", "deal_hand", "nominal_seats"]

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


@dataclass(eq=False, slots=True)
class Ticket:
    """One request in a level, as the debug dumps show it (times in ns since the epoch)."""

    flow_schema: str
    distinguisher: str  # the user's name (ByUser), the namespace (ByNamespace) or ""
    user: str
    ri: RequestInfo | None
    verb: str  # the lower-case method for a non-resource request
    path: str
    arrived_ns: int
    started_ns: int = 0  # 0: still waiting
    queue: int = -1  # the queue it waited in; -1: seated at once (or a level without queues)


@dataclass
class _Queue:
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)
    tickets: dict[asyncio.Future[None], Ticket] = field(default_factory=dict)


class LevelState:
    """The live state of one priority level: seats in use, its queues, its counters."""

    def __init__(self, level: Level, seats: int) -> None:
        self.level = level
        self.seats = seats
        self.executing = 0
        self.waiting = 0
        self.dispatched = 0
        self.rejected: dict[str, int] = {}  # reason ("queue-full", "concurrency-limit", "time-out")
        self.cancelled = 0  # waiters whose client went away
        self.seated: dict[Ticket, None] = {}  # the requests holding a seat that brought a ticket
        self._queues = [_Queue() for _ in range(level.queues)]
        self._turn = 0
        self._hands: dict[str, list[int]] = {}

    def try_start(self, ticket: Ticket | None = None) -> bool:
        """A seat now, when one is free and nobody waits for it."""
        if self.level.exempt or (self.executing < self.seats and not self.waiting):
            self.executing += 1
            self.dispatched += 1
            if ticket is not None:
                ticket.started_ns = ticket.arrived_ns
                self.seated[ticket] = None
            return True
        return False

    def enqueue(self, flow: str, ticket: Ticket | None = None) -> asyncio.Future[None] | None:
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
        if ticket is not None:
            queue.tickets[waiter] = ticket
        self.waiting += 1
        return waiter

    def give_up(self, waiter: asyncio.Future[None], cancelled: bool = False) -> None:
        """A waiter's wait limit passed before a seat came (``cancelled``: its client left)."""
        for queue in self._queues:
            if waiter in queue.waiters:
                queue.waiters.remove(waiter)
                queue.tickets.pop(waiter, None)
                self.waiting -= 1
                break
        if cancelled:
            self.cancelled += 1
        else:
            self._reject("time-out")

    def finish(self, ticket: Ticket | None = None) -> None:
        """A request left its seat: hand seats to waiters, fairly across queues."""
        self.executing -= 1
        if ticket is not None:
            self.seated.pop(ticket, None)
        if self.waiting:  # (no call when nobody waits: the usual case)
            self._dispatch()

    def resize(self, seats: int) -> None:
        self.seats = seats
        self._dispatch()

    def queue_lengths(self) -> list[int]:
        return [len(q.waiters) for q in self._queues]

    def waiting_tickets(self) -> list[list[Ticket]]:
        """Per queue, the tickets of its waiters in the order they will be seated."""
        return [[q.tickets[w] for w in q.waiters if w in q.tickets] for q in self._queues]

    def _dispatch(self) -> None:
        count = len(self._queues)
        while self.waiting and self.executing < self.seats:
            for step in range(count):
                queue = self._queues[(self._turn + step) % count]
                if queue.waiters:
                    index = (self._turn + step) % count
                    self._turn = (index + 1) % count
                    waiter = queue.waiters.popleft()
                    ticket = queue.tickets.pop(waiter, None)
                    self.waiting -= 1
                    if not waiter.done():
                        self.executing += 1
                        self.dispatched += 1
                        if ticket is not None:
                            ticket.started_ns, ticket.queue = time.time_ns(), index
                            self.seated[ticket] = None
                        waiter.set_result(None)
                    break
            else:  # (no waiter anywhere: the count is off; never spin)
                self.waiting = 0

    def _reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
