"""Background loops stop on cancellation even when a library turns it into another error.

The fake etcd answers a lease refresh by waiting; cancelled there, it raises what a gRPC
call cancelled mid-flight may raise instead of CancelledError (a CANCELLED status error).
"""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from kprov.cluster.apiserver.endpoint_leases import EndpointLeases
from kprov.cluster.background import stop_requested, stop_tasks


class RpcCancelled(Exception):
    """What grpc.aio raises for a call cancelled under it (StatusCode.CANCELLED)."""


class HangingEtcd:
    """``refresh_lease`` waits for ``answer``; cancelled meanwhile, it raises RpcCancelled."""

    def __init__(self) -> None:
        self.refreshes = 0
        self.revoked: list[int] = []
        self.answer = asyncio.Event()

    async def refresh_lease(self, lease_id: int) -> Any:
        self.refreshes += 1
        try:
            await self.answer.wait()
        except asyncio.CancelledError:
            raise RpcCancelled("CANCELLED") from None
        return SimpleNamespace(TTL=30)

    async def put(self, key: bytes, value: bytes, lease: Any = None) -> None:
        pass

    async def revoke_lease(self, lease_id: int) -> None:
        self.revoked.append(lease_id)

    async def get_prefix(self, prefix: bytes, keys_only: bool = False) -> list[Any]:
        return []


def _leases(etcd: HangingEtcd) -> EndpointLeases:
    ctx = SimpleNamespace(
        config=SimpleNamespace(advertise_address="10.0.0.1", secure_port=6443),
        store=SimpleNamespace(kv=SimpleNamespace(client=etcd)),
    )
    leases = EndpointLeases(ctx, ttl_s=30)  # type: ignore[arg-type]
    leases._lease = SimpleNamespace(id=7)  # (held since an earlier beat)
    return leases


async def test_endpoint_lease_loop_ends_when_its_cancellation_comes_back_as_an_rpc_error() -> None:
    etcd = HangingEtcd()
    leases = _leases(etcd)
    leases.start()
    while etcd.refreshes == 0:
        await asyncio.sleep(0)
    stopping = asyncio.create_task(leases.stop(timeout_s=3.0))
    await asyncio.wait([stopping], timeout=2.0)
    assert stopping.done(), "stop() still waiting for the lease loop"
    assert leases._task is not None and leases._task.done()
    assert etcd.revoked == [7]  # and it still left the Endpoints


async def test_endpoint_lease_loop_ends_when_asyncio_wait_for_loses_its_cancellation() -> None:
    """Python 3.11's wait_for returns the inner result when that is ready as the outer task
    is cancelled, and the cancellation is gone: the answer comes in the same loop turn as the
    stop. The loop must end all the same (it once kept an API server in shutdown for good)."""
    etcd = HangingEtcd()
    leases = _leases(etcd)
    leases.start()
    while etcd.refreshes == 0:
        await asyncio.sleep(0)
    etcd.answer.set()
    stopping = asyncio.create_task(leases.stop(timeout_s=3.0))
    await asyncio.wait([stopping], timeout=2.0)  # (not wait_for: its cancel would end the loop)
    assert stopping.done(), "stop() still waiting for the lease loop"
    assert leases._task is not None and leases._task.done()
    assert etcd.revoked == [7]


async def test_stop_requested_sees_a_cancellation_turned_into_another_error() -> None:
    seen: list[bool] = []

    async def loop() -> None:
        while True:
            try:
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    raise RpcCancelled("CANCELLED") from None
            except RpcCancelled:
                seen.append(stop_requested())
                if seen[-1]:
                    raise asyncio.CancelledError from None

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    assert not stop_requested()  # (this test's own task was never cancelled)
    await stop_tasks(task, timeout_s=2.0)
    assert task.cancelled() and seen == [True]


async def test_stop_tasks_gives_up_on_a_task_that_ignores_cancellation(
        caplog: pytest.LogCaptureFixture) -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING):
        await stop_tasks(task, timeout_s=0.2)
    assert not task.done() and "stubborn did not stop" in caplog.text
    release.set()
    task.cancel()
    await asyncio.wait([task], timeout=1.0)
