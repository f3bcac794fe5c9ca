"""A bind that fails in any way (not only an API error: a client timeout on a busy server)
gives the node's capacity back and puts the pod back on the queue, as upstream's binding
cycle does; before, a timeout left the pod assumed on its node and unscheduled for good."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest

from kprov.cluster.client import ApiClient
from kprov.cluster.client.errors import api_error
from kprov.cluster.scheduler.podinfo import PodInfo
from kprov.cluster.scheduler.scheduler import Scheduler
from tests.unit.scheduler.helpers import node, pod


class _FailingBinds:
    """The one client call a bind makes, failing with ``error``."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.binds: list[tuple[str, str, str]] = []

    async def bind(self, namespace: str, name: str, node_name: str, uid: str | None = None) -> None:
        self.binds.append((namespace, name, node_name))
        raise self.error


@pytest.mark.parametrize("error", [
    TimeoutError(), ConnectionResetError("reset by peer"),
    api_error(500, {"kind": "Status", "code": 500, "message": "etcdserver: request timed out"}),
], ids=["timeout", "reset", "server-error"])
def test_a_failed_bind_forgets_the_assumption_and_requeues_the_pod(error: BaseException) -> None:
    async def scenario() -> None:
        client = _FailingBinds(error)
        scheduler = Scheduler(cast(ApiClient, client))
        scheduler.cache.set_node(node("n1", pods=1))
        info = PodInfo.of({**pod("p"), "metadata": {"name": "p", "namespace": "default", "uid": "u1"}})
        scheduler.cache.assume(info, "n1")
        await scheduler._bind_slots.acquire()
        await scheduler._bind(info.pod, info, "n1")
        assert client.binds == [("default", "p", "n1")]
        assert not scheduler.cache.is_assigned(info.key)  # the node's one pod slot is free again
        assert scheduler.queue.delayed() == 1  # back on the queue after its backoff
        assert scheduler.queue.backoff(info.key) > scheduler.queue.backoff("never-failed")

    asyncio.run(scenario())
