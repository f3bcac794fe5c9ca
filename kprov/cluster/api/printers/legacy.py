"""Table printers for v1 ReplicationControllers, PodTemplates and ComponentStatuses (columns
as upstream's)."""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.objects import get_path
from kprov.cluster.api.printers.columns import AGE, NAME, NONE, Age, Column, Printer, created, name_of
from kprov.cluster.api.printers.workloads import CONTAINERS, IMAGES, SELECTOR, containers_of

__all__ = ["COMPONENTSTATUS", "PODTEMPLATE", "REPLICATIONCONTROLLER"]


def _labels(labels: dict[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or NONE


def _rc_row(obj: dict[str, Any], age: Age) -> list[Any]:
    names, images = containers_of(obj)
    return [
        name_of(obj),
        int(get_path(obj, "spec.replicas", 0) or 0),
        int(get_path(obj, "status.replicas", 0) or 0),
        int(get_path(obj, "status.readyReplicas", 0) or 0),
        created(obj, age),
        names,
        images,
        _labels(get_path(obj, "spec.selector")),
    ]


REPLICATIONCONTROLLER = Printer(
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
    _rc_row,
)


def _podtemplate_row(obj: dict[str, Any], age: Age) -> list[Any]:
    containers = get_path(obj, "template.spec.containers", []) or []
    return [
        name_of(obj),
        ",".join(str(c.get("name", "")) for c in containers),
        ",".join(str(c.get("image", "")) for c in containers),
        _labels(get_path(obj, "template.metadata.labels")),
    ]


PODTEMPLATE = Printer(
    (
        NAME,
        Column("Containers", description="Names of each container in the template."),
        Column("Images", description="Images referenced by each container in the template."),
        Column("Pod Labels", description="The labels for the pod template."),
    ),
    _podtemplate_row,
)


def _component_row(obj: dict[str, Any], age: Age) -> list[Any]:
    status, message, error = "Unknown", "", ""
    for condition in obj.get("conditions") or []:
        if condition.get("type") == "Healthy":
            status = "Healthy" if condition.get("status") == "True" else "Unhealthy"
            message, error = str(condition.get("message") or ""), str(condition.get("error") or "")
            break
    return [name_of(obj), status, message, error]


COMPONENTSTATUS = Printer(
    (
        NAME,
        Column("Status", description="Status of the component conditions"),
        Column("Message", description="Message of the component conditions"),
        Column("Error", description="Error of the component conditions"),
    ),
    _component_row,
)
