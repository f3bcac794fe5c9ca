"""Validation of autoscaling/v1 HorizontalPodAutoscalers, with kube-apiserver's paths and wording.

Design: minReplicas (when set) and maxReplicas are at least 1 and max >= min; the scale
target names a kind and a name, each a valid path segment; the CPU target, when set, is at
least 1 percent.
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.api._field_errors import Errors

__all__ = ["validate_hpa"]

_BAD_SEGMENTS = (".", "..")
_BAD_PARTS = ("/", "%")


def _path_segment(errors: Errors, value: str, path: str) -> None:
    if value in _BAD_SEGMENTS:
        errors.invalid(path, value, f"may not be '{value}'")
    for part in _BAD_PARTS:
        if part in value:
            errors.invalid(path, value, f"may not contain '{part}'")


def validate_hpa(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    spec = obj.get("spec") or {}
    minimum, maximum = spec.get("minReplicas"), spec.get("maxReplicas") or 0
    if minimum is not None and minimum < 1:
        errors.invalid("spec.minReplicas", minimum, "must be greater than 0")
    if maximum < 1:
        errors.invalid("spec.maxReplicas", maximum, "must be greater than 0")
    if minimum is not None and maximum < minimum:
        errors.invalid("spec.maxReplicas", maximum, "must be greater than or equal to `minReplicas`")
    ref = spec.get("scaleTargetRef") or {}
    for field in ("kind", "name"):
        value = str(ref.get(field) or "")
        if not value:
            errors.required(f"spec.scaleTargetRef.{field}", "")
        else:
            _path_segment(errors, value, f"spec.scaleTargetRef.{field}")
    target = spec.get("targetCPUUtilizationPercentage")
    if target is not None and target < 1:
        errors.invalid("spec.targetCPUUtilizationPercentage", target, "must be greater than 0")
