"""The ReplicaSet and Job controllers count their pods' informer events once (observe_event).

A fake API client records creates and deletes; pod events are delivered through the pod
informer (its handlers, as a watch would), so the test decides when the cache "sees" a
write. An add or a deletion counted twice lets a pass act on a cache that has not caught
up (a pod too many or too few); one not counted at all holds the controller back until
the expectations expire (60 s), so a lost pod is not replaced.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from typing import Any

from kprov.cluster.client.informer import Informer
from kprov.cluster.client.resources import JOBS, PODS, REPLICASETS, Resource
from kprov.cluster.controllers.base import ControllerContext, Expectations
from kprov.cluster.controllers.informers import SharedInformers
from kprov.cluster.controllers.workloads.job import JobController
from kprov.cluster.controllers.workloads.replicaset import ReplicaSetController

Obj = dict[str, Any]

_MARKED = "2026-01-01T00:00:00Z"


class _FakeClient:
    """Pod creates and deletes recorded; nothing reaches the informers' caches by itself."""

    def __init__(self) -> None:
        self.created: list[Obj] = []
        self.deleted: list[str] = []
        self._names = itertools.count()

    async def create(self, resource: Resource, body: Obj, namespace: str | None = None) -> Obj:
        obj = copy.deepcopy(body)
        meta = obj["metadata"]
        meta.setdefault("name", f"{meta.get('generateName', 'obj-')}{next(self._names)}")
        meta["uid"] = f"uid-{meta['name']}"
        meta["resourceVersion"] = "1"
        if resource is PODS:
            self.created.append(obj)
        return obj

    async def delete(self, resource: Resource, name: str, namespace: str | None = None) -> Obj:
        self.deleted.append(name)
        return {}

    async def update_status(self, resource: Resource, body: Obj) -> Obj:
        return body


class _Recorder:
    async def record(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        return None


def _context() -> tuple[ControllerContext, _FakeClient, SharedInformers]:
    client = _FakeClient()
    informers = SharedInformers(client)  # type: ignore[arg-type]
    ctx = ControllerContext(client=client, informers=informers, recorder=_Recorder())  # type: ignore[arg-type]
    return ctx, client, informers


def _template() -> Obj:
    return {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "web:1"}], "restartPolicy": "Never"}}


def _seen(pods: Informer, pod: Obj) -> None:
    pods._apply("ADDED", copy.deepcopy(pod))


def _marked(pods: Informer, pod: Obj) -> None:
    marked = copy.deepcopy(pod)
    marked["metadata"]["deletionTimestamp"] = _MARKED
    pods._apply("MODIFIED", marked)


def _gone(pods: Informer, pod: Obj) -> None:
    current = pods.store.get(f"{pod['metadata']['namespace']}/{pod['metadata']['name']}")
    pods._apply("DELETED", copy.deepcopy(current or pod))


# -- ReplicaSet ------------------------------------------------------------------------------

def _replicaset(replicas: int) -> Obj:
    return {"metadata": {"name": "web", "namespace": "default", "uid": "rs-uid", "generation": 1},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": _template()}}


def _rs_controller(replicas: int) -> tuple[ReplicaSetController, _FakeClient, SharedInformers]:
    ctx, client, informers = _context()
    controller = ReplicaSetController(ctx)
    informers.get(REPLICASETS).store.put(_replicaset(replicas))
    return controller, client, informers


def test_replicaset_counts_each_created_pod_once() -> None:
    controller, client, informers = _rs_controller(2)
    pods = informers.get(PODS)
    asyncio.run(controller.reconcile("default/web"))
    assert len(client.created) == 2
    _seen(pods, client.created[0])
    asyncio.run(controller.reconcile("default/web"))  # one create still unseen: nothing to do
    assert len(client.created) == 2
    _seen(pods, client.created[1])
    asyncio.run(controller.reconcile("default/web"))
    assert len(client.created) == 2
    _gone(pods, client.created[0])  # a pod lost: replaced at once, both adds were counted
    asyncio.run(controller.reconcile("default/web"))
    assert len(client.created) == 3


def test_replicaset_counts_a_deletion_once_marked_then_gone_or_gone_unmarked() -> None:
    controller, client, informers = _rs_controller(3)
    pods = informers.get(PODS)
    asyncio.run(controller.reconcile("default/web"))
    for pod in client.created:
        _seen(pods, pod)
    informers.get(REPLICASETS).store.put(_replicaset(1))
    asyncio.run(controller.reconcile("default/web"))
    assert len(client.deleted) == 2
    first, second = (p for p in client.created if p["metadata"]["name"] in client.deleted)
    _marked(pods, first)  # graceful: marked, then gone; one deletion seen, not two
    _gone(pods, first)
    asyncio.run(controller.reconcile("default/web"))  # the other deletion not yet seen
    assert len(client.deleted) == 2
    _gone(pods, second)  # gone without ever being marked: seen when it is gone
    informers.get(REPLICASETS).store.put(_replicaset(2))
    asyncio.run(controller.reconcile("default/web"))
    assert len(client.deleted) == 2
    assert len(client.created) == 4  # both deletions counted: scaled up again at once


# -- Job -------------------------------------------------------------------------------------

def _job_controller() -> tuple[JobController, _FakeClient, SharedInformers]:
    ctx, client, informers = _context()
    controller = JobController(ctx)
    informers.get(JOBS).store.put({
        "metadata": {"name": "batch", "namespace": "default", "uid": "job-uid", "generation": 1},
        "spec": {"parallelism": 2, "completions": 2, "backoffLimit": 6,
                 "selector": {"matchLabels": {"app": "web"}}, "template": _template()},
    })
    return controller, client, informers


def test_job_counts_each_created_pod_once() -> None:
    controller, client, informers = _job_controller()
    pods = informers.get(PODS)
    asyncio.run(controller.reconcile("default/batch"))
    assert len(client.created) == 2
    _seen(pods, client.created[0])
    asyncio.run(controller.reconcile("default/batch"))  # one create still unseen: nothing to do
    assert len(client.created) == 2
    _seen(pods, client.created[1])
    asyncio.run(controller.reconcile("default/batch"))
    assert len(client.created) == 2
    pods.store.remove(f"default/{client.created[0]['metadata']['name']}")  # lost from the cache
    asyncio.run(controller.reconcile("default/batch"))
    assert len(client.created) == 3  # both adds were counted: replaced at once


# -- observe_event itself --------------------------------------------------------------------

def test_observe_event_counts_an_add_and_a_deletion_once() -> None:
    expectations = Expectations()
    pod: Obj = {"metadata": {"name": "p"}}
    marked: Obj = {"metadata": {"name": "p", "deletionTimestamp": _MARKED}}
    expectations.expect("k", adds=1, deletes=2)
    expectations.observe_event("k", None, pod)
    expectations.observe_event("k", pod, {"metadata": {"name": "p", "labels": {"a": "b"}}})
    expectations.observe_event("k", pod, marked)
    expectations.observe_event("k", marked, marked)
    expectations.observe_event("k", marked, None)
    assert not expectations.satisfied("k")  # one deletion of two seen
    expectations.observe_event("k", pod, None)
    assert expectations.satisfied("k")
