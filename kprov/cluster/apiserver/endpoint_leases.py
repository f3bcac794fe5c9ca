"""The lease endpoint reconciler: the ``kubernetes`` Service points at live API servers only.

Pods (and kube-proxy's rules) reach the API through the ``kubernetes`` Service, whose
Endpoints must list the API servers that are up. As kube-apiserver's default ``lease``
reconciler does, each API server holds a key ``/kprov/apiserver-leases/<address>`` under an
etcd lease (TTL 15 s) and renews it every 5 s; on each renewal it sets the Endpoints and
EndpointSlice to exactly the addresses that still have a key. A server that dies drops out
when its lease expires (at most TTL + one interval later); one that stops cleanly revokes
its lease and removes itself at once. The keys live outside ``/registry/``: they are not
API objects, and the watch cache never sees them.

Several worker processes of one server put the same key, each under its own lease: the
address stays listed while any of them lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from kprov.cluster.apiserver.bootstrap import set_endpoints
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.background import stop_requested, stop_tasks

__all__ = ["LEASE_PREFIX", "EndpointLeases"]

_log = logging.getLogger(__name__)
LEASE_PREFIX = b"/kprov/apiserver-leases/"


class EndpointLeases:
    def __init__(self, ctx: ApiContext, *, ttl_s: int = 15) -> None:
        self._ctx = ctx
        self._ttl_s = ttl_s
        self._interval_s = ttl_s / 3
        self._address = ctx.config.advertise_address
        self._lease: Any = None
        self._task: asyncio.Task[None] | None = None

    @property
    def _etcd(self) -> Any:
        return self._ctx.store.kv.client

    async def beat(self) -> list[str]:
        """Renew this server's key, then list every live server in the Endpoints; returns them.
        Bounded in time: an etcd that does not answer makes it fail, never hang."""
        async with asyncio.timeout(self._interval_s):
            return await self._beat()

    async def _beat(self) -> list[str]:
        if self._lease is not None:
            reply = await self._etcd.refresh_lease(self._lease.id)
            if reply is None or reply.TTL <= 0:  # expired while etcd was away: start afresh
                self._lease = None
        if self._lease is None:
            self._lease = await self._etcd.lease(self._ttl_s)
        await self._etcd.put(LEASE_PREFIX + self._address.encode(), b"", lease=self._lease)
        return await self._reconcile()

    async def _reconcile(self) -> list[str]:
        found = await self._etcd.get_prefix(LEASE_PREFIX, keys_only=True)
        live = sorted(kv.key[len(LEASE_PREFIX) :].decode() for kv in found)
        if live:
            await set_endpoints(self._ctx, live, self._ctx.config.secure_port)
        return live

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                await self.beat()
            except Exception as exc:  # etcd away, or a conflicting write: try again next time
                if stop_requested():  # (a cancellation that came back as an RPC error)
                    raise asyncio.CancelledError from exc
                _log.warning("endpoint lease: %s", exc)
            if stop_requested():  # cancelled, the CancelledError lost on the way (wait_for, 3.11)
                return
            await asyncio.sleep(self._interval_s)

    async def stop(self, timeout_s: float = 3.0) -> None:
        """Leave the Endpoints now, instead of when the lease would expire (given up after
        ``timeout_s`` when etcd does not answer: the lease then runs out by itself)."""
        await stop_tasks(self._task, timeout_s=timeout_s)
        if self._lease is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._leave(), timeout_s)

    async def _leave(self) -> None:
        await self._etcd.revoke_lease(self._lease.id)
        await self._reconcile()
