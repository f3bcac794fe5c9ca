"""A failed daemon pod's deletion back-off advances when the deletion is made, not when a
pass only decides it (a plan not acted on, or a delete the API server refused, must not
hold the next deletion back)."""

from __future__ import annotations

import asyncio

import pytest

from kprov.cluster.client.errors import ApiError
from kprov.cluster.client.resources import PODS, Resource
from kprov.cluster.controllers.workloads.daemonset import DaemonSetController
from tests.unit.controllers.test_daemonset_expectations import Obj, _controller, _FakeClient

_KEY = "default/agent"
_SLOT = (_KEY, "n1")


def _failed_pod(name: str) -> Obj:
    return {
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "labels": {"app": "agent"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent",
                                          "uid": "ds-uid", "controller": True}]},
        "spec": {"nodeName": "n1", "containers": [{"name": "a", "image": "agent:1"}]},
        "status": {"phase": "Failed"},
    }


def _with_failed(*names: str) -> tuple[DaemonSetController, _FakeClient]:
    controller, client, informers = _controller()
    for name in names:
        informers.get(PODS).store.put(_failed_pod(name))
    return controller, client


def test_deciding_alone_does_not_advance_the_back_off() -> None:
    controller, _client = _with_failed("agent-f1")
    pod = _failed_pod("agent-f1")
    assert controller._failed_to_delete(_KEY, [pod]) == ([pod], None)
    assert controller._failed_to_delete(_KEY, [pod]) == ([pod], None)  # still due: nothing was deleted
    assert controller.failed_backoff == {}


def test_a_refused_delete_does_not_advance_the_back_off() -> None:
    controller, client = _with_failed("agent-f1")

    async def refuse(resource: Resource, name: str, namespace: str | None = None) -> Obj:
        raise ApiError(500, "InternalError", "etcd unavailable")

    client.delete = refuse  # type: ignore[method-assign]
    with pytest.raises(ApiError):
        asyncio.run(controller.reconcile(_KEY))
    assert controller.failed_backoff == {}
    pod = _failed_pod("agent-f1")
    assert controller._failed_to_delete(_KEY, [pod]) == ([pod], None)


def test_a_made_deletion_starts_the_back_off_for_its_node() -> None:
    controller, client = _with_failed("agent-f1")
    asyncio.run(controller.reconcile(_KEY))
    assert client.deleted == ["agent-f1"]
    delay, _last = controller.failed_backoff[_SLOT]
    assert delay == 1.0
    victims, retry = controller._failed_to_delete(_KEY, [_failed_pod("agent-f2")])  # n1 fails again
    assert victims == [] and retry is not None and 0 < retry <= 1.0


def test_one_failed_pod_per_node_a_pass_the_next_waits_the_back_off() -> None:
    controller, client = _with_failed("agent-f1", "agent-f2")
    retry = asyncio.run(controller.reconcile(_KEY))
    assert len([n for n in client.deleted if n.startswith("agent-f")]) == 1
    assert retry == 1.0
    assert controller.failed_backoff[_SLOT][0] == 1.0
