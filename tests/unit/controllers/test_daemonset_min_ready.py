"""A DaemonSet's ``minReadySeconds``: a pod counts as available only after it has been ready
that long, in the rolling update (an old pod is not replaced on the strength of a successor
ready for a moment) and in ``status.numberAvailable``, which the set syncs again to raise."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from kprov.cluster.client.resources import DAEMONSETS, PODS
from kprov.cluster.controllers.workloads.daemonset_update import oldest_first, plan_rolling_update
from tests.unit.controllers.test_daemonset_expectations import _controller

Obj = dict[str, Any]
NOW = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)


def _pod(name: str, revision: str, ready_since: dt.datetime | None, node: str = "n1",
         created: str = "2026-01-01T00:00:00Z") -> Obj:
    condition = {"type": "Ready", "status": "True" if ready_since else "False"}
    if ready_since:
        condition["lastTransitionTime"] = ready_since.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}",
                         "labels": {"controller-revision-hash": revision}, "creationTimestamp": created,
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent",
                                              "uid": "ds-uid", "controller": True}]},
            "spec": {"nodeName": node, "containers": [{"name": "a", "image": "agent:1"}]},
            "status": {"phase": "Running", "conditions": [condition]}}


def _surging_ds(min_ready: int) -> Obj:
    return {"spec": {"minReadySeconds": min_ready,
                     "updateStrategy": {"type": "RollingUpdate",
                                        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}}


def test_an_old_pod_stays_until_its_successor_has_been_ready_for_min_ready_seconds() -> None:
    by_node = {"n1": [_pod("old", "old", NOW - dt.timedelta(hours=1)),
                      _pod("new", "new", NOW - dt.timedelta(seconds=5), created="2026-01-01T11:00:00Z")]}
    assert plan_rolling_update(_surging_ds(30), by_node, {"n1"}, "new", NOW).victims == []
    later = NOW + dt.timedelta(seconds=26)
    assert [p["metadata"]["name"] for p in plan_rolling_update(_surging_ds(30), by_node, {"n1"}, "new",
                                                                later).victims] == ["old"]
    assert plan_rolling_update(_surging_ds(0), by_node, {"n1"}, "new", NOW).victims != []


def test_delete_first_counts_a_pod_ready_for_less_than_min_ready_seconds_as_unavailable() -> None:
    ds = {"spec": {"minReadySeconds": 60, "updateStrategy": {"type": "RollingUpdate"}}}
    by_node = {"n1": [_pod("a", "old", NOW - dt.timedelta(hours=1), "n1")],
               "n2": [_pod("b", "new", NOW - dt.timedelta(seconds=10), "n2")]}
    assert plan_rolling_update(ds, by_node, {"n1", "n2"}, "new", NOW).victims == []  # b uses the 1 slot
    ds["spec"]["minReadySeconds"] = 5
    assert [p["metadata"]["name"] for p in plan_rolling_update(ds, by_node, {"n1", "n2"}, "new", NOW).victims
            ] == ["a"]


def test_the_pod_a_node_is_counted_by_is_its_scheduled_oldest() -> None:
    pods = [_pod("young", "x", None, created="2026-01-02T00:00:00Z"),
            {**_pod("unscheduled", "x", None, created="2025-01-01T00:00:00Z"), "spec": {}},
            _pod("old", "x", None, created="2026-01-01T00:00:00Z")]
    assert [p["metadata"]["name"] for p in oldest_first(pods)] == ["old", "young", "unscheduled"]


def test_status_counts_available_after_min_ready_seconds_and_asks_to_be_synced_then() -> None:
    controller, client, informers = _controller()
    statuses: list[Obj] = []

    async def update_status(resource: object, body: Obj) -> Obj:
        statuses.append(body["status"])
        return body

    client.update_status = update_status  # type: ignore[method-assign]
    key = "default/agent"
    ds = informers.get(DAEMONSETS).store.get(key)
    assert ds is not None
    ds["spec"]["minReadySeconds"] = 120
    now = dt.datetime.now(dt.UTC)
    asyncio.run(controller.reconcile(key))  # makes the revision; its hash names the new pods
    hash_ = client.created[0]["metadata"]["labels"]["controller-revision-hash"]
    informers.get(PODS).store.put(_pod("p1", hash_, now - dt.timedelta(seconds=10), "n1"))
    informers.get(PODS).store.put(_pod("p2", hash_, now - dt.timedelta(seconds=300), "n2"))
    controller.expectations.observed_add(key)
    controller.expectations.observed_add(key)
    retry = asyncio.run(controller.reconcile(key))
    status = statuses[-1]
    assert (status["numberReady"], status["numberAvailable"], status["numberUnavailable"]) == (2, 1, 1)
    assert status["updatedNumberScheduled"] == 2
    assert retry is not None and 0 < retry <= 120
