"""ResourceQuota arithmetic: what an object uses, against what a quota allows.

Design: pure functions shared by the API server's quota admission and the quota controller.
A pod uses ``pods``/``count/pods``, and its compute resources as ``requests.<r>`` (also the
bare ``cpu``/``memory`` names) and ``limits.<r>``: the containers' sum, or the largest init
container's when that is more (upstream's effective request). Other objects use
``count/<resource>[.<group>]`` and, for the core kinds upstream names, their plain names
(``services``, ``secrets``, ``configmaps``, ``replicationcontrollers``, ``resourcequotas``,
``persistentvolumeclaims``; ``services.nodeports``/``services.loadbalancers``; a claim's
``requests.storage``, and both per StorageClass as ``<class>.storageclass.storage.k8s.io/...``). A finished
pod uses nothing. Quantities are Decimals; :func:`fmt` writes them back the short way.

Scopes (:func:`matches_scopes`): a quota with ``spec.scopes`` or ``spec.scopeSelector``
charges only the pods every scope matches (Terminating = ``activeDeadlineSeconds`` set,
BestEffort = no cpu/memory requests or limits in any container, PriorityClass = the
selector's operator on ``priorityClassName``, CrossNamespacePodAffinity = an affinity term
naming other namespaces); any other kind never matches a scoped quota, as upstream's
object-count evaluator answers no to every scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from kprov.cluster.api.objects import parse_quantity

__all__ = ["exceeded", "fmt", "matches_scopes", "missing_requests", "parse_list", "pretty", "usage"]

_PLAIN_COUNTS = {
    "services": "services",
    "secrets": "secrets",
    "configmaps": "configmaps",
    "replicationcontrollers": "replicationcontrollers",
    "resourcequotas": "resourcequotas",
    "persistentvolumeclaims": "persistentvolumeclaims",
}
_COMPUTE = ("cpu", "memory", "ephemeral-storage")
_BINARY = (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))


def fmt(name: str, value: Decimal) -> str:
    """A quantity as kubectl would read it back: ``500m``, ``2``, ``1Gi``."""
    if value == value.to_integral_value():
        number = int(value)
        if not name.endswith(("cpu",)) and number:
            for suffix, size in _BINARY:
                if number % size == 0:
                    return f"{number // size}{suffix}"
        return str(number)
    millis = value * 1000
    if millis == millis.to_integral_value():
        return f"{int(millis)}m"
    return str(value.normalize())


def parse_list(resources: Mapping[str, Any] | None) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for key, value in (resources or {}).items():
        try:
            out[str(key)] = parse_quantity(value)
        except ValueError:
            continue
    return out


def _pod_compute(spec: Mapping[str, Any], kind: str) -> dict[str, Decimal]:
    total: dict[str, Decimal] = {}
    for container in spec.get("containers") or []:
        for key, value in parse_list((container.get("resources") or {}).get(kind)).items():
            total[key] = total.get(key, Decimal(0)) + value
    for container in spec.get("initContainers") or []:
        for key, value in parse_list((container.get("resources") or {}).get(kind)).items():
            total[key] = max(total.get(key, Decimal(0)), value)
    for key, value in parse_list(spec.get("overhead")).items():
        total[key] = total.get(key, Decimal(0)) + value
    return total


def usage(resource: str, group: str, obj: Mapping[str, Any]) -> dict[str, Decimal]:
    """What ``obj`` (of ``resource`` in ``group``) counts against a quota."""
    count_name = f"count/{resource}" + (f".{group}" if group else "")
    used: dict[str, Decimal] = {count_name: Decimal(1)}
    if group == "" and resource == "pods":
        if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return {}
        spec = obj.get("spec") or {}
        used["pods"] = Decimal(1)
        for key, value in _pod_compute(spec, "requests").items():
            used[f"requests.{key}"] = value
            if key in _COMPUTE:
                used[key] = value
        for key, value in _pod_compute(spec, "limits").items():
            used[f"limits.{key}"] = value
    elif group == "" and resource in _PLAIN_COUNTS:
        used[_PLAIN_COUNTS[resource]] = Decimal(1)
        if resource == "services":
            spec = obj.get("spec") or {}
            kind = spec.get("type", "ClusterIP")
            if kind in ("NodePort", "LoadBalancer"):
                used["services.nodeports"] = Decimal(len(spec.get("ports") or []))
            if kind == "LoadBalancer":
                used["services.loadbalancers"] = Decimal(1)
        if resource == "persistentvolumeclaims":
            used.update(_claim_usage(obj))
    return used


def _claim_usage(claim: Mapping[str, Any]) -> dict[str, Decimal]:
    """A claim's storage request, also per class (``<class>.storageclass.storage.k8s.io/...``)."""
    spec = claim.get("spec") or {}
    used: dict[str, Decimal] = {}
    storage = parse_list((spec.get("resources") or {}).get("requests")).get("storage")
    if storage is not None:
        used["requests.storage"] = storage
    class_name = spec.get("storageClassName")
    if class_name:
        prefix = f"{class_name}.storageclass.storage.k8s.io/"
        used[prefix + "persistentvolumeclaims"] = Decimal(1)
        if storage is not None:
            used[prefix + "requests.storage"] = storage
    return used


def missing_requests(hard: Mapping[str, Any], pod: Mapping[str, Any]) -> list[str]:
    """Compute resources a quota constrains that a pod's containers leave unset."""
    missing: list[str] = []
    for name in sorted(hard):
        if name in _COMPUTE:
            kind, resource = "requests", name
        elif "." in name and name.split(".", 1)[0] in ("requests", "limits"):
            kind, resource = name.split(".", 1)
            if resource not in _COMPUTE:
                continue
        else:
            continue
        lacking = [
            c.get("name", "")
            for c in (pod.get("spec") or {}).get("containers") or []
            if resource not in ((c.get("resources") or {}).get(kind) or {})
        ]
        if lacking:
            missing.append(f"{name} for: {','.join(lacking)}")
    return missing


def exceeded(
    hard: Mapping[str, Decimal], used: Mapping[str, Decimal], request: Mapping[str, Decimal]
) -> list[str]:
    """Names the request would take past the quota's hard limit, sorted."""
    return sorted(
        name
        for name, amount in request.items()
        if name in hard and amount > 0 and used.get(name, Decimal(0)) + amount > hard[name]
    )


def pretty(names: list[str], values: Mapping[str, Decimal]) -> str:
    return ",".join(f"{name}={fmt(name, values.get(name, Decimal(0)))}" for name in names)


def _scope_requirements(quota: Mapping[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(scope, operator, values) for ``spec.scopes`` (as Exists) and ``spec.scopeSelector``."""
    spec = quota.get("spec") or {}
    out: list[tuple[str, str, list[str]]] = [(str(scope), "Exists", []) for scope in spec.get("scopes") or []]
    for expr in (spec.get("scopeSelector") or {}).get("matchExpressions") or []:
        scope, operator = str(expr.get("scopeName", "")), str(expr.get("operator", ""))
        out.append((scope, operator, list(expr.get("values") or [])))
    return out


def _best_effort(spec: Mapping[str, Any]) -> bool:
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        resources = container.get("resources") or {}
        for kind in ("requests", "limits"):
            for name, value in parse_list(resources.get(kind)).items():
                if name in ("cpu", "memory") and value != 0:
                    return False
    return True


def _cross_namespace_affinity(spec: Mapping[str, Any]) -> bool:
    affinity = spec.get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        rules = affinity.get(kind) or {}
        terms = list(rules.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        preferred = rules.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        terms += [t.get("podAffinityTerm") or {} for t in preferred]
        if any(t.get("namespaces") or t.get("namespaceSelector") is not None for t in terms):
            return True
    return False


def _pod_matches(scope: str, operator: str, values: list[str], pod: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    if scope == "PriorityClass":
        name = spec.get("priorityClassName")
        if operator == "Exists":
            return bool(name)
        if operator == "DoesNotExist":
            return not name
        if operator == "In":
            return bool(name) and name in values
        if operator == "NotIn":
            return not name or name not in values
        return False
    deadline = spec.get("activeDeadlineSeconds")
    verdict = {
        "Terminating": deadline is not None and int(deadline) >= 0,
        "NotTerminating": deadline is None or int(deadline) < 0,
        "BestEffort": _best_effort(spec),
        "NotBestEffort": not _best_effort(spec),
        "CrossNamespacePodAffinity": _cross_namespace_affinity(spec),
    }.get(scope)
    if verdict is None:
        return False
    return verdict if operator != "DoesNotExist" else not verdict


def matches_scopes(quota: Mapping[str, Any], resource: str, group: str, obj: Mapping[str, Any]) -> bool:
    """Whether ``quota``'s scopes let it charge ``obj``; an unscoped quota charges everything."""
    requirements = _scope_requirements(quota)
    if not requirements:
        return True
    if group != "" or resource != "pods":
        return False
    return all(_pod_matches(scope, op, values, obj) for scope, op, values in requirements)
