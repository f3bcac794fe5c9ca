"""pods/ephemeralcontainers: the subresource's strategy keeps all but the ephemeral list, and
its validation refuses changes to existing ones, duplicate names and long-running fields."""

from __future__ import annotations

import copy
from typing import Any

from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.api.validation.core import validate
from kprov.cluster.apiserver.handlers.lifecycle import prepare_update

PODS = REGISTRY.get("", "v1", "pods")


def _pod(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "uid": "u1", "resourceVersion": "5"},
        "spec": {"containers": [{"name": "app", "image": "busybox"}], **spec},
    }


def _messages(new: dict[str, Any], old: dict[str, Any] | None, sub: str = "") -> list[str]:
    return [f"{c.field}: {c.message}" for c in validate(PODS, new, old, sub)]


def test_only_the_ephemeral_list_changes_through_the_subresource() -> None:
    old = _pod()
    new = _pod(ephemeralContainers=[{"name": "dbg", "image": "busybox", "targetContainerName": "app"}])
    new["spec"]["containers"][0]["image"] = "other"  # dropped, as upstream's strategy does
    new["metadata"]["labels"] = {"x": "y"}
    stored = prepare_update(PODS, old, copy.deepcopy(new), "ephemeralcontainers")
    assert stored["spec"]["containers"][0]["image"] == "busybox"
    assert "labels" not in stored["metadata"]
    assert stored["spec"]["ephemeralContainers"][0]["name"] == "dbg"
    assert _messages(stored, old, "ephemeralcontainers") == []


def test_ephemeral_containers_are_refused_on_create_and_through_the_main_resource() -> None:
    pod = _pod(ephemeralContainers=[{"name": "dbg", "image": "busybox"}])
    assert _messages(pod, None) == ["spec.ephemeralContainers: Forbidden: cannot be set on create"]
    assert any(
        m.startswith("spec: Forbidden: pod updates may not change fields") for m in _messages(pod, _pod())
    )


def test_existing_ones_may_be_neither_changed_nor_removed() -> None:
    old = _pod(ephemeralContainers=[{"name": "dbg", "image": "busybox"}])
    changed = _pod(ephemeralContainers=[{"name": "dbg", "image": "other"}])
    assert _messages(changed, old, "ephemeralcontainers") == [
        'spec.ephemeralContainers: Forbidden: existing ephemeral containers "dbg" may not be changed'
    ]
    assert _messages(_pod(), old, "ephemeralcontainers") == [
        'spec.ephemeralContainers: Forbidden: existing ephemeral containers "dbg" may not be removed'
    ]


def test_names_targets_and_long_running_fields_are_checked() -> None:
    new = _pod(ephemeralContainers=[
        {"name": "app", "image": "busybox"},
        {"name": "dbg", "ports": [{"containerPort": 80}], "targetContainerName": "nope"},
    ])
    assert _messages(new, _pod(), "ephemeralcontainers") == [
        'spec.ephemeralContainers[0].name: Duplicate value: "app"',
        "spec.ephemeralContainers[1].image: Required value",
        "spec.ephemeralContainers[1].ports: Forbidden: cannot be set for an Ephemeral Container",
        'spec.ephemeralContainers[1].targetContainerName: Not found: "nope"',
    ]
