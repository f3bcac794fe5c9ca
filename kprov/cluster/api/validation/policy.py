"""Validation of policy/v1 PodDisruptionBudgets and scheduling.k8s.io/v1 PriorityClasses,
with kube-apiserver's paths and wording.

Design: minAvailable and maxUnavailable are int-or-percent (ints >= 0, percents <= 100%) and
exclusive; the selector must parse; unhealthyPodEvictionPolicy is IfHealthyBudget or
AlwaysAllow. PriorityClass values above 1,000,000,000 and ``system-`` names are reserved for
the two built-in classes; value and preemptionPolicy never change.
"""

from __future__ import annotations

import re
from typing import Any

from kprov.cluster.api.selectors import SelectorError, label_selector_from_object
from kprov.cluster.api.validation.field_errors import Errors

__all__ = ["validate_pdb", "validate_priority_class"]

_PERCENT = re.compile(r"^[0-9]+%$")
_EVICTION_POLICIES = ("AlwaysAllow", "IfHealthyBudget")


def _int_or_percent(errors: Errors, value: Any, path: str) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        errors.invalid(path, value, "must be an integer or percentage (e.g '5%')")
    elif isinstance(value, int):
        if value < 0:
            errors.invalid(path, value, "must be greater than or equal to 0")
    elif isinstance(value, str) and _PERCENT.match(value):
        if int(value[:-1]) > 100:
            errors.invalid(path, value, "must not be greater than 100%")
    else:
        errors.invalid(
            path,
            value,
            "a valid percent string must be a numeric string followed by an ending '%' "
            "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
        )


def validate_pdb(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    spec = obj.get("spec") or {}
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        errors.invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set")
    _int_or_percent(errors, spec.get("minAvailable"), "spec.minAvailable")
    _int_or_percent(errors, spec.get("maxUnavailable"), "spec.maxUnavailable")
    if spec.get("selector") is not None:
        try:
            label_selector_from_object(spec["selector"])
        except SelectorError as exc:
            errors.invalid("spec.selector", spec["selector"], str(exc))
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in _EVICTION_POLICIES:
        errors.not_supported("spec.unhealthyPodEvictionPolicy", policy, _EVICTION_POLICIES)


_HIGHEST_USER_PRIORITY = 1000000000
_SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
_PREEMPTION = ("Never", "PreemptLowerPriority")


def validate_priority_class(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    name = str((obj.get("metadata") or {}).get("name") or "")
    value = obj.get("value")
    if name in _SYSTEM_PRIORITY_CLASSES:
        if value != _SYSTEM_PRIORITY_CLASSES[name]:
            errors.forbidden(
                "value", f"value of system priority class {name} must be {_SYSTEM_PRIORITY_CLASSES[name]}"
            )
    elif name.startswith("system-"):
        errors.forbidden(
            "metadata.name", "priority class names with 'system-' prefix are reserved for system use only"
        )
    elif isinstance(value, int) and value > _HIGHEST_USER_PRIORITY:
        errors.forbidden(
            "value", f"maximum allowed value of a user defined priority is {_HIGHEST_USER_PRIORITY}"
        )
    policy = obj.get("preemptionPolicy")
    if policy is not None and policy not in _PREEMPTION:
        errors.not_supported("preemptionPolicy", policy, _PREEMPTION)
    if old is not None:
        if old.get("value") != value:
            errors.forbidden("value", "may not be changed in an update.")
        if old.get("preemptionPolicy") != policy:
            errors.immutable("preemptionPolicy", policy)
