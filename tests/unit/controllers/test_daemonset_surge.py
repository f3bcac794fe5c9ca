"""A DaemonSet's RollingUpdate: delete-first up to maxUnavailable, create-first up to
maxSurge (a new pod beside the old until it is ready), planned from the pods per node."""

from __future__ import annotations

import asyncio
from typing import Any

from kprov.cluster.client.resources import DAEMONSETS, PODS
from kprov.cluster.controllers.workloads.daemonset_update import extra_pods, max_surge, plan_rolling_update
from tests.unit.controllers.test_daemonset_expectations import _controller

Obj = dict[str, Any]
NEW, OLD = "new", "old"


def _ds(**rolling: Any) -> Obj:
    return {"spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": rolling}}}


def _pod(name: str, revision: str, ready: bool = True, created: str = "2026-01-01T00:00:00Z") -> Obj:
    return {"metadata": {"name": name, "labels": {"controller-revision-hash": revision},
                         "creationTimestamp": created},
            "status": {"phase": "Running",
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def _names(pods: list[Obj]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


def test_delete_first_replaces_broken_pods_first_then_up_to_max_unavailable() -> None:
    by_node = {"n1": [_pod("a", OLD)], "n2": [_pod("b", OLD, ready=False)], "n3": [_pod("c", OLD)]}
    plan = plan_rolling_update(_ds(), by_node, {"n1", "n2", "n3"}, NEW)
    assert _names(plan.victims) == ["b"] and plan.surge_nodes == []  # b unready: 1 of 1 used
    plan = plan_rolling_update(_ds(maxUnavailable=2), by_node, {"n1", "n2", "n3"}, NEW)
    assert _names(plan.victims) == ["b", "a"]
    plan = plan_rolling_update(_ds(maxUnavailable="50%"), by_node, {"n1", "n2", "n3"}, NEW)
    assert len(plan.victims) == 2  # 50 % of 3 rounds up to 2, as upstream


def test_create_first_starts_new_pods_beside_the_old_up_to_max_surge() -> None:
    wanted = {"n1", "n2", "n3"}
    ds = _ds(maxSurge=1, maxUnavailable=0)
    start = {"n1": [_pod("a", OLD)], "n2": [_pod("b", OLD)], "n3": [_pod("c", OLD)]}
    plan = plan_rolling_update(ds, start, wanted, NEW)
    assert plan.victims == [] and plan.surge_nodes == ["n1"]  # nothing deleted before its successor
    waiting = {**start, "n1": [_pod("a", OLD), _pod("a2", NEW, ready=False)]}
    plan = plan_rolling_update(ds, waiting, wanted, NEW)
    assert plan.victims == [] and plan.surge_nodes == []  # the one surge slot is taken
    ready = {**start, "n1": [_pod("a", OLD), _pod("a2", NEW)]}
    plan = plan_rolling_update(ds, ready, wanted, NEW)
    assert _names(plan.victims) == ["a"] and plan.surge_nodes == ["n2"]
    assert plan_rolling_update(_ds(maxSurge="50%", maxUnavailable=0), start, wanted, NEW).surge_nodes == [
        "n1", "n2"]


def test_create_first_replaces_an_unready_old_pod_outside_the_surge_budget() -> None:
    by_node = {"n1": [_pod("a", OLD), _pod("a2", NEW, ready=False)], "n2": [_pod("b", OLD, ready=False)]}
    plan = plan_rolling_update(_ds(maxSurge=1, maxUnavailable=0), by_node, {"n1", "n2"}, NEW)
    assert plan.surge_nodes == ["n2"] and plan.victims == []


def test_on_delete_plans_nothing_and_surge_is_zero_by_default() -> None:
    on_delete = {"spec": {"updateStrategy": {"type": "OnDelete"}}}
    assert plan_rolling_update(on_delete, {"n1": [_pod("a", OLD)]}, {"n1"}, NEW).victims == []
    assert max_surge(_ds(), 3) == 0 and max_surge(on_delete, 3) == 0


def test_a_node_keeps_one_pod_or_while_surging_the_oldest_of_each_revision() -> None:
    pods = [_pod("new-late", NEW, created="2026-01-03T00:00:00Z"), _pod("old", OLD),
            _pod("new-early", NEW, created="2026-01-02T00:00:00Z")]
    assert _names(extra_pods(pods, NEW, surging=True)) == ["new-late"]
    assert _names(extra_pods(pods, NEW, surging=False)) == ["new-early", "new-late"]  # the oldest stays


def test_the_controller_surges_then_deletes_the_old_pod_once_the_new_is_ready() -> None:
    controller, client, informers = _controller()
    key = "default/agent"
    ds = informers.get(DAEMONSETS).store.get(key)
    assert ds is not None
    ds["spec"]["updateStrategy"] = {"type": "RollingUpdate",
                                    "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    owner = [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": "ds-uid",
              "controller": True}]
    for node in ("n1", "n2"):  # an old revision's ready pod on each node
        old = _pod(f"old-{node}", "stale")
        old["metadata"].update(namespace="default", uid=f"uid-old-{node}", ownerReferences=owner)
        old["spec"] = {"nodeName": node, "containers": [{"name": "a", "image": "agent:0"}]}
        informers.get(PODS).store.put(old)
    asyncio.run(controller.reconcile(key))
    assert client.deleted == []  # create-first: no node loses its serving pod
    assert len(client.created) == 1
    created = client.created[0]
    required = created["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    node = required["nodeSelectorTerms"][0]["matchFields"][0]["values"][0]
    assert node == "n1"
    created["metadata"].update(namespace="default", creationTimestamp="2026-01-02T00:00:00Z")
    created["spec"]["nodeName"] = node
    created["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    informers.get(PODS).store.put(created)  # the cache sees it, ready
    controller.expectations.observed_add(key)
    asyncio.run(controller.reconcile(key))
    assert client.deleted == ["old-n1"]  # its successor is ready: the old pod goes
    assert len(client.created) == 2  # and n2 gets its new pod beside its old one
