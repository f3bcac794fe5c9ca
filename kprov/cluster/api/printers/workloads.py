"""Table printers for deployments, replicasets, statefulsets, daemonsets and controller
revisions (CONTROLLER prints as ``statefulset.apps/web``, as upstream)."""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.objects import get_path
from kprov.cluster.api.printers.columns import AGE, NAME, NONE, Age, Column, Printer, created, name_of
from kprov.cluster.api.selectors import SelectorError, label_selector_from_object

__all__ = [
    "CONTAINERS",
    "CONTROLLERREVISION",
    "DAEMONSET",
    "DEPLOYMENT",
    "IMAGES",
    "REPLICASET",
    "SELECTOR",
    "STATEFULSET",
    "containers_of",
    "selector_of",
]


# --- workloads ----------------------------------------------------------------------------------


def containers_of(obj: dict[str, Any]) -> tuple[str, str]:
    containers = get_path(obj, "spec.template.spec.containers", []) or []
    return (
        ",".join(str(c.get("name", "")) for c in containers),
        ",".join(str(c.get("image", "")) for c in containers),
    )


def selector_of(obj: dict[str, Any]) -> str:
    selector = get_path(obj, "spec.selector")
    if selector is None:
        return NONE
    try:
        text = str(label_selector_from_object(selector))
    except SelectorError:
        return "<error>"
    return text or NONE


def _int(obj: dict[str, Any], path: str) -> int:
    return int(get_path(obj, path, 0) or 0)


CONTAINERS = Column("Containers", description="Names of each container in the template.", priority=1)
IMAGES = Column("Images", description="Images referenced by each container in the template.", priority=1)
SELECTOR = Column("Selector", description="Label selector for pods.", priority=1)


def _deployment_row(obj: dict[str, Any], age: Age) -> list[Any]:
    names, images = containers_of(obj)
    return [
        name_of(obj),
        f"{_int(obj, 'status.readyReplicas')}/{_int(obj, 'spec.replicas')}",
        _int(obj, "status.updatedReplicas"),
        _int(obj, "status.availableReplicas"),
        created(obj, age),
        names,
        images,
        selector_of(obj),
    ]


DEPLOYMENT = Printer(
    (
        NAME,
        Column("Ready", description="Number of the pod with ready state"),
        Column(
            "Up-to-date",
            "integer",
            "Total number of non-terminated pods targeted by this deployment that "
            "have the desired template spec.",
        ),
        Column(
            "Available",
            "integer",
            "Total number of available pods (ready for at least minReadySeconds) "
            "targeted by this deployment.",
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ),
    _deployment_row,
)


def _replicaset_row(obj: dict[str, Any], age: Age) -> list[Any]:
    names, images = containers_of(obj)
    return [
        name_of(obj),
        _int(obj, "spec.replicas"),
        _int(obj, "status.replicas"),
        _int(obj, "status.readyReplicas"),
        created(obj, age),
        names,
        images,
        selector_of(obj),
    ]


REPLICASET = Printer(
    (
        NAME,
        Column("Desired", "integer", "Number of desired pods."),
        Column("Current", "integer", "Number of actually running pods."),
        Column("Ready", "integer", "Number of ready pods."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ),
    _replicaset_row,
)


def _statefulset_row(obj: dict[str, Any], age: Age) -> list[Any]:
    names, images = containers_of(obj)
    return [
        name_of(obj),
        f"{_int(obj, 'status.readyReplicas')}/{_int(obj, 'spec.replicas')}",
        created(obj, age),
        names,
        images,
    ]


STATEFULSET = Printer(
    (
        NAME,
        Column("Ready", description="Number of the pod with ready state"),
        AGE,
        CONTAINERS,
        IMAGES,
    ),
    _statefulset_row,
)


def _daemonset_row(obj: dict[str, Any], age: Age) -> list[Any]:
    names, images = containers_of(obj)
    node_selector = get_path(obj, "spec.template.spec.nodeSelector", {}) or {}
    selector_text = ",".join(f"{k}={v}" for k, v in sorted(node_selector.items())) or NONE
    return [
        name_of(obj),
        _int(obj, "status.desiredNumberScheduled"),
        _int(obj, "status.currentNumberScheduled"),
        _int(obj, "status.numberReady"),
        _int(obj, "status.updatedNumberScheduled"),
        _int(obj, "status.numberAvailable"),
        selector_text,
        created(obj, age),
        names,
        images,
        selector_of(obj),
    ]


DAEMONSET = Printer(
    (
        NAME,
        Column("Desired", "integer", "The total number of nodes that should be running the daemon pod."),
        Column("Current", "integer", "The number of nodes that are running at least 1 daemon pod."),
        Column(
            "Ready",
            "integer",
            "The number of nodes that should be running the daemon pod and have one "
            "or more of the daemon pod running and ready.",
        ),
        Column("Up-to-date", "integer", "The total number of nodes that are running updated daemon pod"),
        Column(
            "Available",
            "integer",
            "The number of nodes that should be running the daemon pod and have "
            "one or more of the daemon pod running and available.",
        ),
        Column(
            "Node Selector",
            description="NodeSelector is a selector which must be true for the pod to fit on a node.",
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ),
    _daemonset_row,
)


def _revision_row(obj: dict[str, Any], age: Age) -> list[Any]:
    refs = get_path(obj, "metadata.ownerReferences", []) or []
    owner = next((r for r in refs if r.get("controller")), None)
    controller = NONE
    if owner is not None:
        group = str(owner.get("apiVersion", "")).rpartition("/")[0]
        kind = str(owner.get("kind", "")).lower() + (f".{group}" if group else "")
        controller = f"{kind}/{owner.get('name', '')}"
    return [name_of(obj), controller, int(obj.get("revision") or 0), created(obj, age)]


CONTROLLERREVISION = Printer(
    (
        NAME,
        Column("Controller", description="The object that owns this revision."),
        Column("Revision", type="integer", description="The revision's number."),
        AGE,
    ),
    _revision_row,
)
