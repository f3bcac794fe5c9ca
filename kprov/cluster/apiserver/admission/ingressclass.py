"""kube-apiserver's DefaultIngressClass admission plugin.

An Ingress created with neither ``spec.ingressClassName`` nor the legacy annotation
``kubernetes.io/ingress.class`` gets the default IngressClass's name: the class annotated
``ingressclass.kubernetes.io/is-default-class: "true"``, the newest one when several are
(ties: the lower name), nothing when there is none (:mod:`.default_class`). Only on create,
as upstream: an existing Ingress keeps what it has.
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver.admission.default_class import find_default_class, newest_default
from kprov.cluster.apiserver.context import ApiContext

__all__ = ["admit_create", "default_ingress_class"]

_DEFAULT_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
_LEGACY_ANNOTATION = "kubernetes.io/ingress.class"


def _is_default(ingress_class: dict[str, Any]) -> bool:
    annotations = (ingress_class.get("metadata") or {}).get("annotations") or {}
    return annotations.get(_DEFAULT_ANNOTATION) == "true"  # exactly, as upstream ("True" is not)


def default_ingress_class(classes: list[dict[str, Any]]) -> str | None:
    """The default among ``classes``: the newest annotated one (ties: the lower name)."""
    return newest_default(classes, _is_default)


async def admit_create(ctx: ApiContext, info: ResourceInfo, obj: dict[str, Any]) -> None:
    if (info.group, info.resource) != ("networking.k8s.io", "ingresses"):
        return
    spec = obj.setdefault("spec", {})
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if spec.get("ingressClassName") is not None or _LEGACY_ANNOTATION in annotations:
        return
    found = await find_default_class(ctx, "networking.k8s.io", "ingressclasses", _is_default)
    if found is not None:
        spec["ingressClassName"] = found
