"""API loops on a thread of their own: what the fault workload and the ReplicaSet probe share.

Each probe drives the API through the VIP (writes, or deletes) and watches what it did, both
while the test's own thread injects and heals a fault. :class:`BackgroundLoops` runs such
loops on one asyncio loop in one daemon thread, each loop with its own
:class:`~kprov.cluster.client.ApiClient` (a request hung on a vanished host must not hold the
watch up), until :meth:`BackgroundLoops.stop`; the loops are then cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

from kprov.cluster.client import AlreadyExists, ApiClient, load_kubeconfig, resources

__all__ = ["ApiLoop", "BackgroundLoops", "ensure_namespace"]

ApiLoop = Callable[[ApiClient], Awaitable[None]]


async def ensure_namespace(client: ApiClient, namespace: str) -> None:
    with contextlib.suppress(AlreadyExists):
        await client.create(resources.NAMESPACES, {"metadata": {"name": namespace}})


class BackgroundLoops:
    """``loops`` running on a thread named ``name`` until :meth:`stop`."""

    def __init__(self, kubeconfig: Path, timeout_s: float, name: str, *loops: ApiLoop) -> None:
        self.kubeconfig, self.timeout_s, self.loops = kubeconfig, timeout_s, loops
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, join_s: float) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(join_s)

    async def _main(self) -> None:
        config = load_kubeconfig(self.kubeconfig)
        async with contextlib.AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(ApiClient(config, timeout=self.timeout_s))
                       for _ in self.loops]
            pairs = zip(self.loops, clients, strict=True)
            tasks = [asyncio.create_task(loop(client)) for loop, client in pairs]
            while not self._stop.is_set():
                await asyncio.sleep(0.1)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
