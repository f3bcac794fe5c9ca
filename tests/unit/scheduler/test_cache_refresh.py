"""The scheduler's cache holds each bound pod's newest version, not the one it scheduled.

kube-scheduler's cache updates a pod's info on every update of it. kprov's kept the version
it scheduled (or first saw bound) for the pod's whole life, beside the informer's newer one:
two decoded copies of every running pod. Updates that keep the node and labels only swap
the object; a relabelled pod is indexed again; nothing is counted twice.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from kprov.cluster.client import ApiClient
from kprov.cluster.scheduler.podinfo import PodInfo
from kprov.cluster.scheduler.scheduler import Scheduler
from tests.unit.scheduler.helpers import cache_with, node, pod


def _bound(name: str, labels: dict[str, str], phase: str) -> dict[str, Any]:
    p = pod(name, cpu="100m", labels=labels, nodeName="n1")
    p["status"] = {"phase": phase}
    return p


def test_an_update_on_the_same_node_swaps_the_object_only() -> None:
    first = _bound("p", {"app": "a"}, "Pending")
    cache = cache_with([node("n1")], [(first, "n1")])
    running = _bound("p", {"app": "a"}, "Running")
    cache.refresh("default/p", running)
    assert cache._pods["default/p"].pod is running
    assert cache.nodes["n1"].pods["default/p"].pod is running
    assert cache.nodes["n1"].req_cpu == 100


def test_a_relabelled_pod_is_indexed_again() -> None:
    cache = cache_with([node("n1")], [(_bound("p", {"app": "a"}, "Running"), "n1")])
    relabelled = _bound("p", {"app": "b"}, "Running")
    cache.refresh("default/p", relabelled)
    assert cache._pods["default/p"].labels == {"app": "b"}
    assert ("default", "app", "a") not in cache._by_label
    assert cache._by_label[("default", "app", "b")] == {"default/p"}
    assert cache.nodes["n1"].req_cpu == 100 and len(cache.nodes["n1"].pods) == 1


def test_the_informer_update_after_a_bind_reaches_the_cache() -> None:
    async def scenario() -> None:
        scheduler = Scheduler(cast(ApiClient, object()))
        scheduler.cache.set_node(node("n1"))
        scheduled = pod("p", cpu="100m", labels={"app": "a"})
        placed = {**scheduled, "spec": {**scheduled["spec"], "nodeName": "n1"}}
        scheduler.cache.assume(PodInfo.of(placed), "n1")
        bound = _bound("p", {"app": "a"}, "Pending")
        scheduler._pod_updated(scheduled, bound)  # the bind observed: confirmed
        assert not scheduler.cache.assumed
        running = _bound("p", {"app": "a"}, "Running")
        scheduler._pod_updated(bound, running)
        assert scheduler.cache._pods["default/p"].pod is running
        assert scheduler.cache.nodes["n1"].req_cpu == 100

    asyncio.run(scenario())
