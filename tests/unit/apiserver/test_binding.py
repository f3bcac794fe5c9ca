"""The binding's new pod (handlers.binding.bound_pod): what upstream's setPodHostAndAnnotations
sets, on a copy that shares the rest with the cached pod and never changes it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.apiserver.handlers.binding import bound_pod
from kprov.cluster.apiserver.request.status import ApiError

PODS = REGISTRY.get("", "v1", "pods")


def _pod(**spec: Any) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "resourceVersion": "7", "generation": 1,
                     "creationTimestamp": "2026-01-01T00:00:00Z", "labels": {"a": "b"},
                     "managedFields": [{"manager": "m", "fieldsV1": {"f:spec": {}}}]},
        "spec": {"containers": [{"name": "c", "image": "x"}], **spec},
        "status": {"phase": "Pending", "qosClass": "BestEffort"},
    }


def _bind(live: dict[str, Any], node: str = "n1", uid: str = "", annotations: dict[str, Any] | None = None,
          now: str = "2026-01-02T00:00:00Z") -> dict[str, Any]:
    assert PODS is not None
    return bound_pod(PODS, live, "p", node, uid, annotations or {}, now)


def test_sets_node_and_condition_and_leaves_the_cached_pod_alone() -> None:
    live = _pod()
    before = copy.deepcopy(live)
    new = _bind(live)
    assert live == before
    assert new["spec"]["nodeName"] == "n1"
    assert list(new["spec"]) == ["containers", "nodeName"]
    assert new["status"]["conditions"] == [
        {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
         "lastTransitionTime": "2026-01-02T00:00:00Z"}
    ]
    # no generation bump and no managedFields entry: upstream writes through storage, not the strategy
    assert new["metadata"] == live["metadata"]
    assert new["spec"]["containers"] is live["spec"]["containers"]  # shared, never copied


def test_condition_replaced_in_place_as_update_pod_condition() -> None:
    live = _pod()
    live["status"]["conditions"] = [
        {"type": "PodScheduled", "status": "False", "lastProbeTime": None,
         "lastTransitionTime": "2026-01-01T00:00:01Z", "reason": "Unschedulable", "message": "no"},
        {"type": "Other", "status": "True"},
    ]
    new = _bind(live)
    assert [c["type"] for c in new["status"]["conditions"]] == ["PodScheduled", "Other"]
    assert new["status"]["conditions"][0] == {
        "type": "PodScheduled", "status": "True", "lastProbeTime": None,
        "lastTransitionTime": "2026-01-02T00:00:00Z",
    }
    assert live["status"]["conditions"][0]["status"] == "False"
    live["status"]["conditions"][0]["status"] = "True"  # already True: the transition time is kept
    assert _bind(live)["status"]["conditions"][0]["lastTransitionTime"] == "2026-01-01T00:00:01Z"


def test_annotations_merged_in_go_order() -> None:
    new = _bind(_pod(), annotations={"k": "v"})
    assert new["metadata"]["annotations"] == {"k": "v"}
    keys = list(new["metadata"])
    assert keys.index("labels") < keys.index("annotations") < keys.index("managedFields")


@pytest.mark.parametrize(
    ("change", "uid", "resource", "text"),
    [
        ({"spec": {"nodeName": "other"}}, "", "pods/binding", 'pod p is already assigned to node "other"'),
        ({"metadata": {"deletionTimestamp": "x"}}, "", "pods/binding",
         "pod p is being deleted, cannot be assigned to a host"),
        ({"spec": {"schedulingGates": [{"name": "g"}]}}, "", "pods/binding",
         "pod p has non-empty .spec.schedulingGates"),
        ({}, "u2", "pods", "Precondition failed: UID in precondition: u2, UID in object meta: u1"),
    ],
)
def test_refusals_as_upstream(change: dict[str, Any], uid: str, resource: str, text: str) -> None:
    live = _pod()
    for part, fields in change.items():
        live[part].update(fields)
    with pytest.raises(ApiError) as caught:
        _bind(live, uid=uid)
    assert caught.value.code == 409 and caught.value.reason == "Conflict"
    assert str(caught.value.message) == f'Operation cannot be fulfilled on {resource} "p": {text}'


def test_a_resource_version_precondition_as_upstreams_storage() -> None:
    """The Binding's resourceVersion, when given, must be the pod's (checked after the uid)."""
    assert PODS is not None
    live = _pod()
    with pytest.raises(ApiError) as caught:
        bound_pod(PODS, live, "p", "n1", "", {}, "2026-01-02T00:00:00Z", revision="6")
    assert caught.value.code == 409 and str(caught.value.message) == (
        'Operation cannot be fulfilled on pods "p": '
        "Precondition failed: ResourceVersion in precondition: 6, ResourceVersion in object meta: 7"
    )
    bound = bound_pod(PODS, live, "p", "n1", "u1", {}, "2026-01-02T00:00:00Z", revision="7")
    assert bound["spec"]["nodeName"] == "n1"
