"""Validation of node.k8s.io/v1 RuntimeClasses, with kube-apiserver's paths and wording.

Design: ``handler`` (the CRI runtime configuration pods of the class run with) is a DNS
label and never changes; ``overhead.podFixed`` is checked as a container's limits are (so
its causes read ``overhead.limits[cpu]`` as upstream's); ``scheduling`` carries a node
selector (label rules) and tolerations (the pod's rules).
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.validation.field_errors import Errors
from kprov.cluster.api.validation.names import dns1123_label_errors, label_value_errors, qualified_name_errors
from kprov.cluster.api.validation.pod import validate_resources, validate_tolerations

__all__ = ["validate_runtime_class"]


def _node_selector(errors: Errors, selector: Any, path: str) -> None:
    if not isinstance(selector, dict):
        return
    for key, value in selector.items():
        errors.each(path, key, qualified_name_errors(str(key)))
        errors.each(path, value, label_value_errors(str(value)))


def validate_runtime_class(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    handler = obj.get("handler")
    errors.each("handler", handler if handler is not None else "", dns1123_label_errors(str(handler or "")))
    overhead = obj.get("overhead")
    if isinstance(overhead, dict) and isinstance(overhead.get("podFixed"), dict):
        validate_resources(errors, {"limits": overhead["podFixed"]}, "overhead")
    scheduling = obj.get("scheduling")
    if isinstance(scheduling, dict):
        _node_selector(errors, scheduling.get("nodeSelector"), "scheduling.nodeSelector")
        validate_tolerations(errors, scheduling.get("tolerations") or [], "scheduling.tolerations")
    if old is not None and old.get("handler") != handler:
        errors.immutable("handler", handler)
