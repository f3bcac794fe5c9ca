"""Leader election through a coordination.k8s.io/v1 Lease (the client-go algorithm).

Every candidate tries, each ``retry_period``, to create or take over the Lease. A Lease is
free when it has no holder or when the candidate has seen its record unchanged for
``lease_duration`` on its *own* clock (clocks are never compared across machines). Writes
are compare-and-swap on metadata.resourceVersion, so two candidates can never both win.
The leader renews each ``retry_period``; if it cannot renew for ``renew_deadline`` it has
lost leadership and its work is cancelled (the components then exit, like the real ones).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from kprov.cluster.client.errors import AlreadyExists, ApiError, Conflict, NotFound
from kprov.cluster.client.resources import LEASES
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.client.timeutil import format_micro_time

__all__ = ["LeaderElectionConfig", "LeaderElector", "LeadershipLost", "default_identity"]

log = logging.getLogger(__name__)


class LeadershipLost(Exception):
    """The lease could not be renewed in time; stop all work."""


def default_identity() -> str:
    return f"{socket.gethostname()}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class LeaderElectionConfig:
    name: str
    namespace: str = "kube-system"
    identity: str = ""
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


class LeaderElector:
    def __init__(self, client: ApiClient, config: LeaderElectionConfig) -> None:
        self.client = client
        self.config = config
        self.identity = config.identity or default_identity()
        self._observed: dict[str, Any] | None = None  # last Lease seen
        self._observed_record: tuple[Any, ...] | None = None
        self._observed_at = 0.0  # monotonic time the record last changed
        self.is_leader = False

    def _record(self, lease: dict[str, Any]) -> tuple[Any, ...]:
        spec = lease.get("spec") or {}
        return (spec.get("holderIdentity"), spec.get("renewTime"), spec.get("leaseTransitions"))

    def _observe(self, lease: dict[str, Any]) -> None:
        record = self._record(lease)
        if record != self._observed_record:
            self._observed_record = record
            self._observed_at = time.monotonic()
        self._observed = lease

    def _spec(self, transitions: int, acquire_time: str | None) -> dict[str, Any]:
        stamp = format_micro_time()
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.config.lease_duration),
            "acquireTime": acquire_time or stamp,
            "renewTime": stamp,
            "leaseTransitions": transitions,
        }

    async def try_acquire_or_renew(self) -> bool:
        """One attempt; True when this candidate holds the lease afterwards."""
        cfg = self.config
        try:
            lease = await self.client.get(LEASES, cfg.name, cfg.namespace)
        except NotFound:
            body = {"metadata": {"name": cfg.name, "namespace": cfg.namespace}, "spec": self._spec(0, None)}
            try:
                created = await self.client.create(LEASES, body)
            except (AlreadyExists, Conflict):
                return False
            self._observe(created)
            return True
        self._observe(lease)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        duration = float(spec.get("leaseDurationSeconds") or cfg.lease_duration)
        i_hold = holder == self.identity
        if holder and not i_hold and time.monotonic() < self._observed_at + duration:
            return False  # someone else holds a lease that has not expired
        transitions = int(spec.get("leaseTransitions") or 0)
        if not i_hold:
            transitions += 1
        new_spec = self._spec(transitions, spec.get("acquireTime") if i_hold else None)
        updated = {**lease, "spec": new_spec}
        try:
            result = await self.client.update(LEASES, updated)
        except Conflict:
            return False
        self._observe(result)
        return True

    async def _acquire(self) -> None:
        while True:
            try:
                if await self.try_acquire_or_renew():
                    return
            except ApiError as exc:
                log.warning("leader election %s: %s", self.config.name, exc)
            await asyncio.sleep(self.config.retry_period)

    async def _renew_loop(self) -> None:
        last_renew = time.monotonic()
        while True:
            await asyncio.sleep(self.config.retry_period)
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for loses a cancel that lands as the
                # renewal completes, and the cancelled elector then renews (holds) forever.
                left = max(0.1, last_renew + self.config.renew_deadline - time.monotonic())
                async with asyncio.timeout(left):
                    ok = await self.try_acquire_or_renew()
            except (ApiError, TimeoutError) as exc:
                log.warning("leader election %s: renew failed: %s", self.config.name, exc)
                ok = False
            if ok:
                last_renew = time.monotonic()
            elif time.monotonic() - last_renew >= self.config.renew_deadline:
                where = f"{self.config.namespace}/{self.config.name}"
                raise LeadershipLost(f"{self.identity} lost the lease {where}")

    async def release(self) -> None:
        """Give the lease up (on clean shutdown) so another candidate takes over at once."""
        if not self.is_leader or self._observed is None:
            return
        lease = dict(self._observed)
        lease["spec"] = {**(lease.get("spec") or {}), "holderIdentity": "", "leaseDurationSeconds": 1}
        with contextlib.suppress(ApiError):
            await self.client.update(LEASES, lease)
        self.is_leader = False

    async def run(self, lead: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Wait to become leader, then run ``lead()`` while renewing.

        Returns when ``lead`` returns; raises LeadershipLost when the lease is lost (``lead``
        is cancelled first).
        """
        await self._acquire()
        self.is_leader = True
        log.info("%s became leader of %s/%s", self.identity, self.config.namespace, self.config.name)
        work = asyncio.create_task(lead())
        renew = asyncio.create_task(self._renew_loop())
        try:
            done, _ = await asyncio.wait({work, renew}, return_when=asyncio.FIRST_COMPLETED)
            if renew in done:
                self.is_leader = False
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)
                renew.result()  # raises LeadershipLost
            await work
        finally:
            for task in (work, renew):
                task.cancel()
            await asyncio.gather(work, renew, return_exceptions=True)
