"""HorizontalPodAutoscalers between autoscaling/v1 and autoscaling/v2 (the stored version).

Design: as upstream's hand-written v1 conversion. v1 only has a CPU utilization target and
the current CPU utilization; everything else of v2 travels through v1 in annotations, so a
v1 client's read-modify-write keeps it:

- ``autoscaling.alpha.kubernetes.io/metrics``: the spec's metrics other than a CPU
  utilization one, in v1's MetricSpec form (targetAverageUtilization, metricName, ...);
- ``.../current-metrics``: all of status.currentMetrics, in v1's MetricStatus form;
- ``.../conditions``: status.conditions;
- ``.../behavior``: spec.behavior (v2's form).

v1 -> v2 reads the annotations back (and removes them); a v1 object without any metric
gets the implicit 80 % CPU target. Pure functions over dicts; the API server calls them on
reads and writes of either version.
"""

from __future__ import annotations

import copy
import json
from typing import Any

__all__ = [
    "BEHAVIOR_ANNOTATION",
    "CONDITIONS_ANNOTATION",
    "CURRENT_METRICS_ANNOTATION",
    "DEFAULT_CPU_UTILIZATION",
    "METRICS_ANNOTATION",
    "V1",
    "V2",
    "convert",
    "to_v1",
    "to_v2",
]

V1, V2 = "autoscaling/v1", "autoscaling/v2"
METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
_ROUND_TRIP = (METRICS_ANNOTATION, CURRENT_METRICS_ANNOTATION, CONDITIONS_ANNOTATION, BEHAVIOR_ANNOTATION)
DEFAULT_CPU_UTILIZATION = 80

Obj = dict[str, Any]


def _set(out: Obj, key: str, value: Any) -> None:
    if value is not None:
        out[key] = value


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# -- metric specs: v2 <-> v1's annotation form ---------------------------------------------------
def _spec_to_v1(metric: Obj) -> Obj:
    kind = metric.get("type", "")
    out: Obj = {"type": kind}
    if kind == "Resource" and (src := metric.get("resource")) is not None:
        target = src.get("target") or {}
        res: Obj = {"name": src.get("name", "")}
        _set(res, "targetAverageUtilization", target.get("averageUtilization"))
        _set(res, "targetAverageValue", target.get("averageValue"))
        out["resource"] = res
    elif kind == "ContainerResource" and (src := metric.get("containerResource")) is not None:
        target = src.get("target") or {}
        res = {"name": src.get("name", ""), "container": src.get("container", "")}
        _set(res, "targetAverageUtilization", target.get("averageUtilization"))
        _set(res, "targetAverageValue", target.get("averageValue"))
        out["containerResource"] = res
    elif kind == "Pods" and (src := metric.get("pods")) is not None:
        ident, target = src.get("metric") or {}, src.get("target") or {}
        pods: Obj = {
            "metricName": ident.get("name", ""),
            "targetAverageValue": target.get("averageValue", "0"),
        }
        _set(pods, "selector", ident.get("selector"))
        out["pods"] = pods
    elif kind == "Object" and (src := metric.get("object")) is not None:
        ident, target = src.get("metric") or {}, src.get("target") or {}
        obj: Obj = {
            "target": dict(src.get("describedObject") or {}),
            "metricName": ident.get("name", ""),
            "targetValue": target.get("value", "0"),
        }
        _set(obj, "selector", ident.get("selector"))
        _set(obj, "averageValue", target.get("averageValue"))
        out["object"] = obj
    elif kind == "External" and (src := metric.get("external")) is not None:
        ident, target = src.get("metric") or {}, src.get("target") or {}
        ext: Obj = {"metricName": ident.get("name", "")}
        _set(ext, "metricSelector", ident.get("selector"))
        _set(ext, "targetValue", target.get("value"))
        _set(ext, "targetAverageValue", target.get("averageValue"))
        out["external"] = ext
    return out


def _identifier(name: Any, selector: Any) -> Obj:
    ident: Obj = {"name": name or ""}
    _set(ident, "selector", selector)
    return ident


def _target(kind: str, **values: Any) -> Obj:
    out: Obj = {"type": kind}
    for key, value in values.items():
        _set(out, key, value)
    return out


def _spec_from_v1(metric: Obj) -> Obj:
    kind = metric.get("type", "")
    out: Obj = {"type": kind}
    for field in ("resource", "containerResource"):
        if kind == ("Resource" if field == "resource" else "ContainerResource") and (
            src := metric.get(field)
        ):
            utilization, value = src.get("targetAverageUtilization"), src.get("targetAverageValue")
            new: Obj = {"name": src.get("name", "")}
            if field == "containerResource":
                new["container"] = src.get("container", "")
            new["target"] = _target(
                "AverageValue" if utilization is None else "Utilization",
                averageUtilization=utilization,
                averageValue=value,
            )
            out[field] = new
    if kind == "Pods" and (src := metric.get("pods")):
        out["pods"] = {
            "metric": _identifier(src.get("metricName"), src.get("selector")),
            "target": _target("AverageValue", averageValue=src.get("targetAverageValue")),
        }
    elif kind == "Object" and (src := metric.get("object")):
        average = src.get("averageValue")
        out["object"] = {
            "describedObject": dict(src.get("target") or {}),
            "metric": _identifier(src.get("metricName"), src.get("selector")),
            "target": _target(
                "Value" if average is None else "AverageValue",
                value=src.get("targetValue"),
                averageValue=average,
            ),
        }
    elif kind == "External" and (src := metric.get("external")):
        value = src.get("targetValue")
        out["external"] = {
            "metric": _identifier(src.get("metricName"), src.get("metricSelector")),
            "target": _target(
                "AverageValue" if value is None else "Value",
                value=value,
                averageValue=src.get("targetAverageValue"),
            ),
        }
    return out


# -- metric statuses ---------------------------------------------------------------------------------
def _status_to_v1(metric: Obj) -> Obj:
    kind = metric.get("type", "")
    out: Obj = {"type": kind}
    for field in ("resource", "containerResource"):
        if (src := metric.get(field)) is not None:
            current = src.get("current") or {}
            res: Obj = {"name": src.get("name", "")}
            if field == "containerResource":
                res["container"] = src.get("container", "")
            _set(res, "currentAverageUtilization", current.get("averageUtilization"))
            res["currentAverageValue"] = current.get("averageValue", "0")
            out[field] = res
    if (src := metric.get("pods")) is not None:
        ident, current = src.get("metric") or {}, src.get("current") or {}
        pods: Obj = {
            "metricName": ident.get("name", ""),
            "currentAverageValue": current.get("averageValue", "0"),
        }
        _set(pods, "selector", ident.get("selector"))
        out["pods"] = pods
    if (src := metric.get("object")) is not None:
        ident, current = src.get("metric") or {}, src.get("current") or {}
        obj: Obj = {
            "target": dict(src.get("describedObject") or {}),
            "metricName": ident.get("name", ""),
            "currentValue": current.get("value", "0"),
        }
        _set(obj, "selector", ident.get("selector"))
        _set(obj, "averageValue", current.get("averageValue"))
        out["object"] = obj
    if (src := metric.get("external")) is not None:
        ident, current = src.get("metric") or {}, src.get("current") or {}
        ext: Obj = {"metricName": ident.get("name", ""), "currentValue": current.get("value", "0")}
        _set(ext, "metricSelector", ident.get("selector"))
        _set(ext, "currentAverageValue", current.get("averageValue"))
        out["external"] = ext
    return out


def _current(**values: Any) -> Obj:
    out: Obj = {}
    for key, value in values.items():
        _set(out, key, value)
    return out


def _status_from_v1(metric: Obj) -> Obj:
    out: Obj = {"type": metric.get("type", "")}
    for field in ("resource", "containerResource"):
        if (src := metric.get(field)) is not None:
            new: Obj = {"name": src.get("name", "")}
            if field == "containerResource":
                new["container"] = src.get("container", "")
            new["current"] = _current(
                averageUtilization=src.get("currentAverageUtilization"),
                averageValue=src.get("currentAverageValue"),
            )
            out[field] = new
    if (src := metric.get("pods")) is not None:
        out["pods"] = {
            "metric": _identifier(src.get("metricName"), src.get("selector")),
            "current": _current(averageValue=src.get("currentAverageValue")),
        }
    if (src := metric.get("object")) is not None:
        out["object"] = {
            "describedObject": dict(src.get("target") or {}),
            "metric": _identifier(src.get("metricName"), src.get("selector")),
            "current": _current(value=src.get("currentValue"), averageValue=src.get("averageValue")),
        }
    if (src := metric.get("external")) is not None:
        out["external"] = {
            "metric": _identifier(src.get("metricName"), src.get("metricSelector")),
            "current": _current(value=src.get("currentValue"), averageValue=src.get("currentAverageValue")),
        }
    return out


def _is_cpu_utilization(metric: Obj) -> bool:
    resource = metric.get("resource") or {}
    return (
        metric.get("type") == "Resource"
        and resource.get("name") == "cpu"
        and (resource.get("target") or {}).get("averageUtilization") is not None
    )


# -- whole objects -------------------------------------------------------------------------------------
def to_v1(obj: Obj) -> Obj:
    """A v2 HorizontalPodAutoscaler as autoscaling/v1 shows it (a new dict)."""
    spec, status = obj.get("spec") or {}, obj.get("status")
    meta = copy.deepcopy(obj.get("metadata") or {})
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in _ROUND_TRIP}
    metrics = list(spec.get("metrics") or [])
    if others := [_spec_to_v1(m) for m in metrics if not _is_cpu_utilization(m)]:
        annotations[METRICS_ANNOTATION] = _compact(others)
    if spec.get("behavior") is not None:
        annotations[BEHAVIOR_ANNOTATION] = _compact(spec["behavior"])
    new_spec: Obj = {"scaleTargetRef": copy.deepcopy(spec.get("scaleTargetRef") or {})}
    _set(new_spec, "minReplicas", spec.get("minReplicas"))
    new_spec["maxReplicas"] = spec.get("maxReplicas", 0)
    for metric in metrics:
        if metric.get("type") == "Resource" and (metric.get("resource") or {}).get("name") == "cpu":
            _set(
                new_spec,
                "targetCPUUtilizationPercentage",
                ((metric["resource"].get("target") or {}).get("averageUtilization")),
            )
            break
    out: Obj = {
        "apiVersion": V1,
        "kind": obj.get("kind", "HorizontalPodAutoscaler"),
        "metadata": meta,
        "spec": new_spec,
    }
    if status is not None:
        current_metrics = list(status.get("currentMetrics") or [])
        if current_metrics:
            annotations[CURRENT_METRICS_ANNOTATION] = _compact([_status_to_v1(m) for m in current_metrics])
        if status.get("conditions"):
            annotations[CONDITIONS_ANNOTATION] = _compact(status["conditions"])
        new_status: Obj = {}
        for key in ("observedGeneration", "lastScaleTime"):
            _set(new_status, key, status.get(key))
        new_status["currentReplicas"] = status.get("currentReplicas", 0)
        new_status["desiredReplicas"] = status.get("desiredReplicas", 0)
        for metric in current_metrics:
            resource = metric.get("resource") or {}
            if metric.get("type") == "Resource" and resource.get("name") == "cpu":
                _set(
                    new_status,
                    "currentCPUUtilizationPercentage",
                    (resource.get("current") or {}).get("averageUtilization"),
                )
        out["status"] = new_status
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return out


def _annotation(annotations: dict[str, str], key: str) -> Any:
    text = annotations.pop(key, None)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def to_v2(obj: Obj) -> Obj:
    """A v1 HorizontalPodAutoscaler in autoscaling/v2 (a new dict)."""
    spec, status = obj.get("spec") or {}, obj.get("status")
    meta = copy.deepcopy(obj.get("metadata") or {})
    annotations = dict(meta.get("annotations") or {})
    others = _annotation(annotations, METRICS_ANNOTATION)
    current = _annotation(annotations, CURRENT_METRICS_ANNOTATION)
    conditions = _annotation(annotations, CONDITIONS_ANNOTATION)
    behavior = _annotation(annotations, BEHAVIOR_ANNOTATION)
    metrics = [_spec_from_v1(m) for m in others or [] if isinstance(m, dict)]
    cpu = spec.get("targetCPUUtilizationPercentage")
    if cpu is not None:
        metrics.append(_cpu_metric(cpu))
    if not metrics:
        metrics = [_cpu_metric(DEFAULT_CPU_UTILIZATION)]
    new_spec: Obj = {"scaleTargetRef": copy.deepcopy(spec.get("scaleTargetRef") or {})}
    _set(new_spec, "minReplicas", spec.get("minReplicas"))
    new_spec["maxReplicas"] = spec.get("maxReplicas", 0)
    new_spec["metrics"] = metrics
    if isinstance(behavior, dict):
        new_spec["behavior"] = behavior
    out: Obj = {
        "apiVersion": V2,
        "kind": obj.get("kind", "HorizontalPodAutoscaler"),
        "metadata": meta,
        "spec": new_spec,
    }
    if status is not None:
        new_status: Obj = {}
        for key in ("observedGeneration", "lastScaleTime"):
            _set(new_status, key, status.get(key))
        new_status["currentReplicas"] = status.get("currentReplicas", 0)
        new_status["desiredReplicas"] = status.get("desiredReplicas", 0)
        if isinstance(current, list):
            new_status["currentMetrics"] = [_status_from_v1(m) for m in current if isinstance(m, dict)]
        elif status.get("currentCPUUtilizationPercentage") is not None:
            new_status["currentMetrics"] = [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "current": {"averageUtilization": status["currentCPUUtilizationPercentage"]},
                    },
                }
            ]
        if isinstance(conditions, list):
            new_status["conditions"] = conditions
        out["status"] = new_status
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return out


def _cpu_metric(percent: int) -> Obj:
    return {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": percent}},
    }


def convert(obj: Obj, api_version: str) -> Obj:
    """``obj`` in ``api_version`` (itself if it already is)."""
    if obj.get("apiVersion") == api_version:
        return obj
    return to_v1(obj) if api_version == V1 else to_v2(obj)
