"""LimitRange admission for pods: fill default requests/limits and enforce min/max/ratio, as
kube-apiserver's LimitRanger plugin does.

Design: the LimitRanges of the pod's namespace come from the watch cache. A ``Container``
item's ``defaultRequest``/``default`` fill what a container leaves unset (upstream's
LimitRange defaulting first derives them: default from max, defaultRequest from default,
then from min) and the pod is annotated ``kubernetes.io/limit-ranger``; then each container
(``Container`` items) and the pod's sums (``Pod`` items) are checked against min, max and
maxLimitRequestRatio. Violations are one 403 Forbidden worded as upstream's
(``minimum cpu usage per Container is 100m, but request is 50m``). The QoS class is computed
again, as the requests and limits may have changed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kprov.cluster.api.objects import parse_quantity
from kprov.cluster.api.pod_defaults import pod_qos_class
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.request.status import refused

__all__ = ["admit", "item_defaults"]

ANNOTATION = "kubernetes.io/limit-ranger"


def item_defaults(item: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(default limits, default requests) of a Container item, derived as upstream defaults them."""
    limits = dict(item.get("default") or {})
    for key, value in (item.get("max") or {}).items():
        limits.setdefault(key, value)
    requests = dict(item.get("defaultRequest") or {})
    for key, value in limits.items():
        requests.setdefault(key, value)
    for key, value in (item.get("min") or {}).items():
        requests.setdefault(key, value)
    return limits, requests


def _q(value: Any) -> Decimal:
    try:
        return parse_quantity(value)
    except ValueError:
        return Decimal(0)


def _check(
    errors: list[str], item: dict[str, Any], scope: str, requests: dict[str, Any], limits: dict[str, Any]
) -> None:
    for key, low in (item.get("min") or {}).items():
        if key not in requests:
            errors.append(f"minimum {key} usage per {scope} is {low}.  No request is specified")
        elif _q(requests[key]) < _q(low):
            errors.append(f"minimum {key} usage per {scope} is {low}, but request is {requests[key]}")
    for key, high in (item.get("max") or {}).items():
        if key not in limits:
            errors.append(f"maximum {key} usage per {scope} is {high}.  No limit is specified")
        elif _q(limits[key]) > _q(high):
            errors.append(f"maximum {key} usage per {scope} is {high}, but limit is {limits[key]}")
    for key, ratio in (item.get("maxLimitRequestRatio") or {}).items():
        if key not in limits or key not in requests or _q(requests[key]) == 0:
            continue
        actual = _q(limits[key]) / _q(requests[key])
        if actual > _q(ratio):
            errors.append(
                f"{key} max limit to request ratio per {scope} is {ratio}, "
                f"but provided ratio is {float(actual):f}"
            )


def _pod_sums(spec: dict[str, Any], kind: str) -> dict[str, Any]:
    total: dict[str, Decimal] = {}
    for container in spec.get("containers") or []:
        for key, value in ((container.get("resources") or {}).get(kind) or {}).items():
            total[key] = total.get(key, Decimal(0)) + _q(value)
    return {k: str(v.normalize()) for k, v in total.items()}


async def admit(ctx: ApiContext, info: ResourceInfo, obj: dict[str, Any]) -> None:
    ranges_info = ctx.registry.get("", "v1", "limitranges")
    if ranges_info is None or info.group != "" or info.resource != "pods":
        return
    namespace = obj["metadata"]["namespace"]
    ranges = sorted(
        ctx.cache.objects(ctx.prefix(ranges_info, namespace)), key=lambda r: r["metadata"]["name"]
    )
    if not ranges:
        return
    spec = obj.setdefault("spec", {})
    notes: list[str] = []
    errors: list[str] = []
    for limit_range in ranges:
        for item in (limit_range.get("spec") or {}).get("limits") or []:
            if item.get("type") != "Container":
                continue
            default_limits, default_requests = item_defaults(item)
            for group in ("initContainers", "containers"):
                for container in spec.get(group) or []:
                    resources = container.setdefault("resources", {})
                    set_requests = [k for k in default_requests if k not in (resources.get("requests") or {})]
                    set_limits = [k for k in default_limits if k not in (resources.get("limits") or {})]
                    for key in set_requests:
                        resources.setdefault("requests", {})[key] = default_requests[key]
                    for key in set_limits:
                        resources.setdefault("limits", {})[key] = default_limits[key]
                    if set_requests:
                        notes.append(
                            f"{', '.join(set_requests)} request for {_kind(group)} {container.get('name')}"
                        )
                    if set_limits:
                        notes.append(
                            f"{', '.join(set_limits)} limit for {_kind(group)} {container.get('name')}"
                        )
    for limit_range in ranges:
        for item in (limit_range.get("spec") or {}).get("limits") or []:
            if item.get("type") == "Container":
                for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
                    resources = container.get("resources") or {}
                    _check(
                        errors,
                        item,
                        "Container",
                        resources.get("requests") or {},
                        resources.get("limits") or {},
                    )
            elif item.get("type") == "Pod":
                _check(errors, item, "Pod", _pod_sums(spec, "requests"), _pod_sums(spec, "limits"))
    if errors:
        name = obj["metadata"]["name"]
        text = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
        raise refused("", "pods", name, text)
    if notes:
        annotations = obj["metadata"].setdefault("annotations", {})
        annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)
        obj.setdefault("status", {})["qosClass"] = pod_qos_class(spec)


def _kind(group: str) -> str:
    return "init container" if group == "initContainers" else "container"
