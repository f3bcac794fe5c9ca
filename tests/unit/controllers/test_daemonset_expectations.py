"""The DaemonSet controller waits for its pod cache before acting again (expectations).

A fake API client records creates and deletes; the informers' stores are filled by hand, so
the test decides when the cache "sees" a created pod. Without expectations a second pass
before the cache catches up creates a second pod for every node.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from typing import Any

from kprov.cluster.client.resources import CONTROLLER_REVISIONS, DAEMONSETS, NODES, PODS, Resource
from kprov.cluster.controllers.base import ControllerContext
from kprov.cluster.controllers.informers import SharedInformers
from kprov.cluster.controllers.workloads.daemonset import DaemonSetController

Obj = dict[str, Any]


class _FakeClient:
    """Creates and deletes recorded; revisions appear in the cache at once, pods do not."""

    def __init__(self) -> None:
        self.created: list[Obj] = []
        self.deleted: list[str] = []
        self.informers: SharedInformers | None = None
        self._names = itertools.count()

    async def create(self, resource: Resource, body: Obj, namespace: str | None = None) -> Obj:
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        meta.setdefault("name", f"{meta.get('generateName', 'obj-')}{next(self._names)}")
        meta["uid"] = f"uid-{meta['name']}"
        if resource is CONTROLLER_REVISIONS and self.informers is not None:
            self.informers.get(CONTROLLER_REVISIONS).store.put(obj)
        elif resource is PODS:
            self.created.append(obj)
        return obj

    async def delete(self, resource: Resource, name: str, namespace: str | None = None) -> Obj:
        self.deleted.append(name)
        return {}

    async def update_status(self, resource: Resource, body: Obj) -> Obj:
        return body


def _controller() -> tuple[DaemonSetController, _FakeClient, SharedInformers]:
    client = _FakeClient()
    informers = SharedInformers(client)  # type: ignore[arg-type]
    client.informers = informers
    ctx = ControllerContext(client=client, informers=informers, recorder=None)  # type: ignore[arg-type]
    controller = DaemonSetController(ctx)
    for name in ("n1", "n2"):
        informers.get(NODES).store.put({"metadata": {"name": name, "labels": {}}, "spec": {}})
    informers.get(DAEMONSETS).store.put({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "default", "uid": "ds-uid", "generation": 1},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": {"metadata": {"labels": {"app": "agent"}},
                              "spec": {"containers": [{"name": "a", "image": "agent:1"}]}}},
    })
    return controller, client, informers


def test_a_second_pass_before_the_cache_sees_the_pods_creates_none() -> None:
    controller, client, informers = _controller()
    asyncio.run(controller.reconcile("default/agent"))
    assert len(client.created) == 2  # one per node
    asyncio.run(controller.reconcile("default/agent"))  # the pod cache has seen nothing yet
    assert len(client.created) == 2


def test_once_the_cache_has_seen_them_a_lost_pod_is_replaced() -> None:
    controller, client, informers = _controller()
    asyncio.run(controller.reconcile("default/agent"))
    pods = informers.get(PODS)
    for pod in client.created:
        pods.store.put(pod)
        controller._pod_event(None, pod)
    asyncio.run(controller.reconcile("default/agent"))
    assert len(client.created) == 2  # both there: nothing to do
    lost = client.created[0]
    pods.store.remove(f"default/{lost['metadata']['name']}")
    controller._pod_event(lost, None)
    asyncio.run(controller.reconcile("default/agent"))
    assert len(client.created) == 3
    assert client.deleted == []
