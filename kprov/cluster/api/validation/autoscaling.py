"""Validation of HorizontalPodAutoscalers (autoscaling/v1 and v2), with kube-apiserver's paths and wording.

Design: both versions check minReplicas (when set) and maxReplicas are at least 1 and max >=
min, and that the scale target names a kind and a name, each a valid path segment. v1's CPU
target, when set, is at least 1 percent. v2 checks each metric as upstream does (a known
source type; exactly the source its type names; per source the identifier, the target's
type Utilization/Value/AverageValue, positive quantities, which of value/averageValue/
averageUtilization each source needs) and the behavior's rules (stabilization window
0..3600 s, selectPolicy Max/Min/Disabled, at least one policy, each of type Pods/Percent
with a positive value and a period of 1..1800 s).
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.objects import parse_quantity
from kprov.cluster.api.validation.field_errors import Errors
from kprov.cluster.api.validation.names import dns1123_label_errors

__all__ = ["validate_hpa"]

_BAD_SEGMENTS = (".", "..")
_BAD_PARTS = ("/", "%")
_SOURCE_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")
_SOURCE_FIELDS = {
    "Object": "object",
    "Pods": "pods",
    "Resource": "resource",
    "External": "external",
    "ContainerResource": "containerResource",
}
_FIELD_ORDER = ("object", "external", "pods", "resource", "containerResource")
_SELECT_POLICIES = ("Disabled", "Max", "Min")
_POLICY_TYPES = ("Percent", "Pods")
MAX_PERIOD_SECONDS = 1800
MAX_STABILIZATION_WINDOW_SECONDS = 3600


def _path_segment(errors: Errors, value: str, path: str) -> None:
    if value in _BAD_SEGMENTS:
        errors.invalid(path, value, f"may not be '{value}'")
    for part in _BAD_PARTS:
        if part in value:
            errors.invalid(path, value, f"may not contain '{part}'")


def _reference(errors: Errors, ref: dict[str, Any], path: str) -> None:
    for field in ("kind", "name"):
        value = str(ref.get(field) or "")
        if not value:
            errors.required(f"{path}.{field}", "")
        else:
            _path_segment(errors, value, f"{path}.{field}")


def validate_hpa(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    spec = obj.get("spec") or {}
    minimum, maximum = spec.get("minReplicas"), spec.get("maxReplicas") or 0
    if minimum is not None and minimum < 1:
        errors.invalid("spec.minReplicas", minimum, "must be greater than or equal to 1")
    if maximum < 1:
        errors.invalid("spec.maxReplicas", maximum, "must be greater than 0")
    if minimum is not None and maximum < minimum:
        errors.invalid("spec.maxReplicas", maximum, "must be greater than or equal to `minReplicas`")
    _reference(errors, spec.get("scaleTargetRef") or {}, "spec.scaleTargetRef")
    if obj.get("apiVersion") == "autoscaling/v1":
        target = spec.get("targetCPUUtilizationPercentage")
        if target is not None and target < 1:
            errors.invalid("spec.targetCPUUtilizationPercentage", target, "must be greater than 0")
        return
    for index, metric in enumerate(spec.get("metrics") or []):
        _metric(errors, metric if isinstance(metric, dict) else {}, f"spec.metrics[{index}]")
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        for direction in ("scaleUp", "scaleDown"):
            if isinstance(behavior.get(direction), dict):
                _rules(errors, behavior[direction], f"spec.behavior.{direction}")


def _rules(errors: Errors, rules: dict[str, Any], path: str) -> None:
    window = rules.get("stabilizationWindowSeconds")
    if window is not None and window < 0:
        errors.invalid(f"{path}.stabilizationWindowSeconds", window, "must be greater than or equal to zero")
    if window is not None and window > MAX_STABILIZATION_WINDOW_SECONDS:
        errors.invalid(
            f"{path}.stabilizationWindowSeconds",
            window,
            f"must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}",
        )
    select = rules.get("selectPolicy")
    if select is not None and select not in _SELECT_POLICIES:
        errors.not_supported(f"{path}.selectPolicy", select, _SELECT_POLICIES)
    policies = rules.get("policies") or []
    if not policies:
        errors.required(f"{path}.policies", "must specify at least one Policy")
    for index, policy in enumerate(policies):
        at = f"{path}.policies[{index}]"
        policy = policy if isinstance(policy, dict) else {}
        if policy.get("type") not in _POLICY_TYPES:
            errors.not_supported(f"{at}.type", policy.get("type", ""), _POLICY_TYPES)
        value, period = policy.get("value") or 0, policy.get("periodSeconds") or 0
        if value <= 0:
            errors.invalid(f"{at}.value", value, "must be greater than zero")
        if period <= 0:
            errors.invalid(f"{at}.periodSeconds", period, "must be greater than zero")
        if period > MAX_PERIOD_SECONDS:
            errors.invalid(
                f"{at}.periodSeconds", period, f"must be less than or equal to {MAX_PERIOD_SECONDS}"
            )


def _metric(errors: Errors, metric: dict[str, Any], path: str) -> None:
    kind = str(metric.get("type") or "")
    if not kind:
        errors.required(f"{path}.type", "must specify a metric source type")
    if kind not in _SOURCE_TYPES:
        errors.not_supported(f"{path}.type", kind, _SOURCE_TYPES)
    present = [f for f in _FIELD_ORDER if metric.get(f) is not None]
    if present:
        first = present[0]
        checks = {
            "object": _object,
            "external": _external,
            "pods": _pods,
            "resource": _resource,
            "containerResource": _container_resource,
        }
        checks[first](errors, metric[first] if isinstance(metric[first], dict) else {}, f"{path}.{first}")
    expected = _SOURCE_FIELDS.get(kind)
    if expected is not None and metric.get(expected) is None:
        errors.required(f"{path}.{expected}", "must populate information for the given metric source")
    if expected is None:
        errors.not_supported(f"{path}.type", kind, _SOURCE_TYPES)
    if len(present) != 1:
        for field in present:
            if field != expected:
                errors.forbidden(f"{path}.{field}", "must populate the given metric source only")


def _positive(errors: Errors, value: Any, path: str) -> None:
    try:
        ok = parse_quantity(value) > 0
    except ValueError:
        ok = False
    if not ok:
        errors.invalid(path, value, "must be positive")


def _target(errors: Errors, target: dict[str, Any], path: str) -> None:
    kind = target.get("type") or ""
    if not kind:
        errors.required(f"{path}.type", "must specify a metric target type")
    if kind not in ("Utilization", "Value", "AverageValue"):
        errors.invalid(f"{path}.type", kind, "must be either Utilization, Value, or AverageValue")
    if target.get("value") is not None:
        _positive(errors, target["value"], f"{path}.value")
    if target.get("averageValue") is not None:
        _positive(errors, target["averageValue"], f"{path}.averageValue")
    utilization = target.get("averageUtilization")
    if utilization is not None and utilization < 1:
        errors.invalid(f"{path}.averageUtilization", utilization, "must be greater than 0")


def _identifier(errors: Errors, ident: dict[str, Any], path: str) -> None:
    name = str(ident.get("name") or "")
    if not name:
        errors.required(f"{path}.name", "must specify a metric name")
    else:
        _path_segment(errors, name, f"{path}.name")


def _object(errors: Errors, src: dict[str, Any], path: str) -> None:
    _reference(errors, src.get("describedObject") or {}, f"{path}.describedObject")
    _identifier(errors, src.get("metric") or {}, f"{path}.metric")
    target = src.get("target") or {}
    _target(errors, target, f"{path}.target")
    if target.get("value") is None and target.get("averageValue") is None:
        errors.required(f"{path}.target.averageValue", "must set either a target value or averageValue")


def _external(errors: Errors, src: dict[str, Any], path: str) -> None:
    _identifier(errors, src.get("metric") or {}, f"{path}.metric")
    target = src.get("target") or {}
    _target(errors, target, f"{path}.target")
    if target.get("value") is None and target.get("averageValue") is None:
        errors.required(
            f"{path}.target.averageValue", "must set either a target value for metric or a per-pod target"
        )
    if target.get("value") is not None and target.get("averageValue") is not None:
        errors.forbidden(
            f"{path}.target.value", "may not set both a target value for metric and a per-pod target"
        )


def _pods(errors: Errors, src: dict[str, Any], path: str) -> None:
    _identifier(errors, src.get("metric") or {}, f"{path}.metric")
    target = src.get("target") or {}
    _target(errors, target, f"{path}.target")
    if target.get("averageValue") is None:
        errors.required(f"{path}.target.averageValue", "must specify a positive target averageValue")


def _resource_target(errors: Errors, src: dict[str, Any], path: str) -> None:
    target = src.get("target") or {}
    _target(errors, target, f"{path}.target")
    if target.get("averageUtilization") is None and target.get("averageValue") is None:
        errors.required(
            f"{path}.target.averageUtilization", "must set either a target raw value or a target utilization"
        )
    if target.get("averageUtilization") is not None and target.get("averageValue") is not None:
        errors.forbidden(
            f"{path}.target.averageValue", "may not set both a target raw value and a target utilization"
        )


def _resource(errors: Errors, src: dict[str, Any], path: str) -> None:
    if not src.get("name"):
        errors.required(f"{path}.name", "must specify a resource name")
    _resource_target(errors, src, path)


def _container_resource(errors: Errors, src: dict[str, Any], path: str) -> None:
    if not src.get("name"):
        errors.required(f"{path}.name", "must specify a resource name")
    container = str(src.get("container") or "")
    if not container:
        errors.required(f"{path}.container", "must specify a container")
    else:
        errors.each(f"{path}.container", container, dns1123_label_errors(container))
    _resource_target(errors, src, path)
