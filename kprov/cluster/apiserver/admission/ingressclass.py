"""kube-apiserver's DefaultIngressClass admission plugin.

An Ingress created with neither ``spec.ingressClassName`` nor the legacy annotation
``kubernetes.io/ingress.class`` gets the default IngressClass's name: the class annotated
``ingressclass.kubernetes.io/is-default-class: "true"``, the newest one when several are
(ties: the lower name), nothing when there is none. Only on create, as upstream: an existing
Ingress keeps what it has. The watch cache answers; on a miss etcd is asked, so a class
created a moment ago counts.
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver.context import ApiContext

__all__ = ["admit_create", "default_ingress_class"]

_DEFAULT_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
_LEGACY_ANNOTATION = "kubernetes.io/ingress.class"


def default_ingress_class(classes: list[dict[str, Any]]) -> str | None:
    """The default among ``classes``: the newest annotated one (ties: the lower name)."""
    def is_default(ingress_class: dict[str, Any]) -> bool:
        annotations = (ingress_class.get("metadata") or {}).get("annotations") or {}
        return annotations.get(_DEFAULT_ANNOTATION) == "true"  # exactly, as upstream ("True" is not)

    defaults = [c for c in classes if is_default(c)]
    if not defaults:
        return None
    # newest first, ties by the lower name (upstream sorts the same way); two stable sorts
    by_name = sorted(defaults, key=lambda c: str(c["metadata"].get("name") or ""))
    newest = sorted(by_name, key=lambda c: str(c["metadata"].get("creationTimestamp") or ""), reverse=True)
    return str(newest[0]["metadata"]["name"])


async def admit_create(ctx: ApiContext, info: ResourceInfo, obj: dict[str, Any]) -> None:
    if (info.group, info.resource) != ("networking.k8s.io", "ingresses"):
        return
    spec = obj.setdefault("spec", {})
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if spec.get("ingressClassName") is not None or _LEGACY_ANNOTATION in annotations:
        return
    classes_info = ctx.registry.get("networking.k8s.io", "v1", "ingressclasses")
    if classes_info is None:
        return
    prefix = ctx.prefix(classes_info, "")
    found = default_ingress_class(list(ctx.cache.objects(prefix)))
    if found is None:
        page = await ctx.store.list(prefix)
        found = default_ingress_class([item.obj for item in page.items])
    if found is not None:
        spec["ingressClassName"] = found
