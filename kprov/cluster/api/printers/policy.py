"""Table printers for PodDisruptionBudgets, ResourceQuotas, LimitRanges, PriorityClasses,
HorizontalPodAutoscalers and RuntimeClasses (columns as upstream's)."""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.kinds import hpa_conversion
from kprov.cluster.api.objects import get_path
from kprov.cluster.api.printers.columns import AGE, NAME, Age, Column, Printer, created, name_of

__all__ = [
    "HORIZONTALPODAUTOSCALER",
    "LIMITRANGE",
    "PODDISRUPTIONBUDGET",
    "PRIORITYCLASS",
    "RESOURCEQUOTA",
    "RUNTIMECLASS",
]


def _or_na(value: Any) -> str:
    return "N/A" if value is None else str(value)


def _row(obj: dict[str, Any], age: Age) -> list[Any]:
    return [
        name_of(obj),
        _or_na(get_path(obj, "spec.minAvailable")),
        _or_na(get_path(obj, "spec.maxUnavailable")),
        int(get_path(obj, "status.disruptionsAllowed", 0) or 0),
        created(obj, age),
    ]


PODDISRUPTIONBUDGET = Printer(
    (
        NAME,
        Column("Min Available", description="The minimum number of pods that must be available."),
        Column("Max Unavailable", description="The maximum number of pods that may be unavailable."),
        Column(
            "Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."
        ),
        AGE,
    ),
    _row,
)


def _quota_row(obj: dict[str, Any], age: Age) -> list[Any]:
    hard = get_path(obj, "status.hard", {}) or {}
    used = get_path(obj, "status.used", {}) or {}
    requests: list[str] = []
    limits: list[str] = []
    for name in sorted(get_path(obj, "spec.hard", {}) or {}):
        cell = f"{name}: {used.get(name, '0')}/{hard.get(name, '0')}"
        (limits if name.split(".", 1)[0] == "limits" and "." in name else requests).append(cell)
    return [name_of(obj), created(obj, age), ", ".join(requests), ", ".join(limits)]


RESOURCEQUOTA = Printer(
    (
        NAME,
        AGE,
        Column(
            "Request",
            description="Request represents a minimum amount of cpu/memory that a container may consume.",
        ),
        Column(
            "Limit",
            description="Limits control the maximum amount of cpu/memory that a container may use "
            "independent of contention on the node.",
        ),
    ),
    _quota_row,
)

LIMITRANGE = Printer(
    (
        NAME,
        Column(
            "Created At",
            "date",
            "CreationTimestamp is a timestamp representing the server time when this object was created.",
        ),
    ),
    lambda obj, age: [name_of(obj), str(get_path(obj, "metadata.creationTimestamp", ""))],
)


PRIORITYCLASS = Printer(
    (
        NAME,
        Column("Value", "integer", "The integer value of this priority class."),
        Column("Global-Default", "boolean", "Whether this priority class is the default one."),
        AGE,
        Column("PreemptionPolicy", description="The policy for preempting pods with lower priority."),
    ),
    lambda obj, age: [
        name_of(obj),
        int(obj.get("value") or 0),
        bool(obj.get("globalDefault")),
        created(obj, age),
        str(obj.get("preemptionPolicy") or "PreemptLowerPriority"),
    ],
)


def _quantity(value: Any) -> str:
    return "<unknown>" if value is None else str(value)


def _hpa_metric(spec: dict[str, Any], status: dict[str, Any] | None) -> str:
    """One metric of the TARGETS column, as upstream's formatHPAMetrics writes it."""
    kind, status = spec.get("type"), status or {}
    if kind in ("External", "Object", "Pods"):
        field = {"External": "external", "Object": "object", "Pods": "pods"}[kind]
        target, current = (
            (spec.get(field) or {}).get("target") or {},
            (status.get(field) or {}).get("current") or {},
        )
        if kind == "Pods":
            return f"{_quantity(current.get('averageValue'))}/{target.get('averageValue')}"
        if target.get("averageValue") is not None:
            return f"{_quantity(current.get('averageValue'))}/{target['averageValue']} (avg)"
        return f"{_quantity(current.get('value'))}/{target.get('value')}"
    if kind in ("Resource", "ContainerResource"):
        field = "resource" if kind == "Resource" else "containerResource"
        source, current = spec.get(field) or {}, (status.get(field) or {}).get("current") or {}
        target = source.get("target") or {}
        if target.get("averageValue") is not None:
            return (
                f"{source.get('name', '')}: {_quantity(current.get('averageValue'))}/{target['averageValue']}"
            )
        used = current.get("averageUtilization")
        wanted = target.get("averageUtilization")
        return (
            f"{source.get('name', '')}: {'<unknown>' if used is None else f'{used}%'}/"
            f"{'<auto>' if wanted is None else f'{wanted}%'}"
        )
    return "<unknown type>"


def _hpa_targets(obj: dict[str, Any]) -> str:
    specs = get_path(obj, "spec.metrics") or []
    if not specs:
        return "<none>"
    statuses = get_path(obj, "status.currentMetrics") or []
    shown = [_hpa_metric(m, statuses[i] if i < len(statuses) else None) for i, m in enumerate(specs[:2])]
    text = ", ".join(shown)
    return f"{text} + {len(specs) - 2} more..." if len(specs) > 2 else text


def _hpa_row(obj: dict[str, Any], age: Age) -> list[Any]:
    if obj.get("apiVersion") == hpa_conversion.V1:  # columns from the v2 form, as upstream
        obj = hpa_conversion.to_v2(obj)
    ref = get_path(obj, "spec.scaleTargetRef", {}) or {}
    minimum = get_path(obj, "spec.minReplicas")
    return [
        name_of(obj),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _hpa_targets(obj),
        "<unset>" if minimum is None else str(minimum),
        int(get_path(obj, "spec.maxReplicas", 0) or 0),
        int(get_path(obj, "status.currentReplicas", 0) or 0),
        created(obj, age),
    ]


HORIZONTALPODAUTOSCALER = Printer(
    (
        NAME,
        Column("Reference", description="Reference to the target resource (kind/name)."),
        Column("Targets", description="The metric targets and their current values."),
        Column("MinPods", description="The lower limit for the number of pods the autoscaler may set."),
        Column("MaxPods", "integer", "The upper limit for the number of pods the autoscaler may set."),
        Column("Replicas", "integer", "The current number of pods managed by this autoscaler."),
        AGE,
    ),
    _hpa_row,
)


RUNTIMECLASS = Printer(
    (
        NAME,
        Column("Handler", description="The CRI runtime configuration pods of the class run with."),
        AGE,
    ),
    lambda obj, age: [name_of(obj), str(obj.get("handler") or ""), created(obj, age)],
)
