"""Which etcd members can serve, judged as etcd's Go client and kube-apiserver judge them.

A member can accept TCP and still serve nothing: cut off from its peers it has no quorum (a
linearizable read waits for a ReadIndex that never comes), and a stopped process (SIGSTOP, a
hung disk) answers nothing at all. gRPC reports neither as UNAVAILABLE, so a client that moves
on only on UNAVAILABLE waits out every deadline on such a member.

:class:`MemberHealth` keeps, per member, when it last answered and until when it is held as
unhealthy. A member is probed only when a call to it has been outstanding for
``probe_after_s`` and it has answered nothing else meanwhile; the probe is kube-apiserver's
etcd health check, a linearizable read of one key, under a short deadline and with etcd's
require-leader metadata (``hasleader: true``, clientv3.WithRequireLeader), so a member that
knows it has no leader refuses at once (``etcdserver: no leader``). On a healthy cluster calls
answer before ``probe_after_s`` and nothing is probed. Concurrent callers share one probe.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["REQUIRE_LEADER", "HealthPolicy", "MemberHealth", "MemberStalledError"]

# etcd's rpctypes.MetadataRequireLeaderKey / MetadataHasLeader: the member refuses the call with
# ErrGRPCNoLeader (UNAVAILABLE) before handling it when it has no leader, and cancels a watch
# stream after three election timeouts without one.
REQUIRE_LEADER = (("hasleader", "true"),)


@dataclass(frozen=True)
class HealthPolicy:
    probe_after_s: float = 1.0  # a call outstanding this long gets its member probed
    probe_timeout_s: float = 1.5  # the probe's deadline (kube-apiserver's probe: 2 s)
    hold_s: float = 5.0  # an unhealthy member is tried last for this long


class MemberStalledError(Exception):
    """The member a call waited on failed its health probe; the call was cancelled."""


class MemberHealth:
    """Health book-keeping for ``members`` etcd members (indexes into ``--etcd-servers``)."""

    def __init__(
        self, members: int, policy: HealthPolicy, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._last_ok = [0.0] * members
        self._held_until = [0.0] * members
        self._silent_until = [0.0] * members  # held for answering nothing (not for "no leader")
        self._probes: dict[int, asyncio.Task[bool]] = {}

    def answered(self, index: int) -> None:
        self._last_ok[index] = self._clock()

    def failed(self, index: int, *, answered: bool = False) -> None:
        """Hold member ``index``; ``answered``: it refused at once (``etcdserver: no leader``)
        rather than answering nothing, so it is alive and may serve again after an election."""
        until = self._clock() + self.policy.hold_s
        self._held_until[index] = until
        if not answered:
            self._silent_until[index] = until

    def held(self, index: int) -> bool:
        return self._clock() < self._held_until[index]

    def silent(self, index: int) -> bool:
        """Held for answering nothing (a failed probe, no connection), not for a refusal."""
        return self._clock() < self._silent_until[index]

    def next_member(self, current: int) -> int:
        """The member after ``current`` (round robin) that is not held; when every other
        member is held, the next one that answered its refusal (during an election the live
        members refuse for want of a leader until one is elected, while a stopped member
        would cost a whole probe again); the very next one when none did."""
        count = len(self._last_ok)
        order = [(current + step) % count for step in range(1, count)]
        fallback = next((i for i in order if not self.silent(i)), order[0] if order else current)
        return next((i for i in order if not self.held(i)), fallback)

    async def serves(self, index: int, probe: Callable[[float], Awaitable[object]]) -> bool:
        """Whether member ``index`` serves: True at once when it answered within
        ``probe_after_s``, else the outcome of ``probe(deadline)`` (shared by every caller
        asking meanwhile). A failed probe holds the member."""
        if self._clock() - self._last_ok[index] < self.policy.probe_after_s:
            return True
        task = self._probes.get(index)
        if task is None:
            task = asyncio.ensure_future(self._probe(index, probe))
            self._probes[index] = task
            task.add_done_callback(lambda done: self._forget(index, done))
        return await asyncio.shield(task)

    def _forget(self, index: int, task: asyncio.Task[bool]) -> None:
        if self._probes.get(index) is task:
            del self._probes[index]

    async def _probe(self, index: int, probe: Callable[[float], Awaitable[object]]) -> bool:
        timeout = self.policy.probe_timeout_s
        try:
            await asyncio.wait_for(probe(timeout), timeout + 0.5)  # (gRPC's deadline comes first)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.failed(index)
            return False
        self.answered(index)
        return True
