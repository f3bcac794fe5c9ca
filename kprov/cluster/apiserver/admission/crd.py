"""Admission of CustomResourceDefinitions and of custom objects.

- A new CRD gets the ``customresourcecleanup.apiextensions.k8s.io`` finalizer (its objects
  are deleted before it goes) and its status at once: accepted names and the NamesAccepted /
  Established conditions, judged against the names other CRDs of its group hold. Upstream a
  controller writes that status a moment later; writing it with the object lets a client
  that waits for Established find it on the first read, and no extra write is needed.
- An update recomputes that status (names may have changed; storedVersions grow).
- Custom objects of a terminating CRD cannot be created (405, as upstream).
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.crd.definition import CLEANUP_FINALIZER, accepted_status
from kprov.cluster.api.objects import now_rfc3339
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.request.status import ApiError

__all__ = ["before_create", "before_update", "is_crd"]


def is_crd(info: ResourceInfo) -> bool:
    return info.group == "apiextensions.k8s.io" and info.resource == "customresourcedefinitions"


def _taken(ctx: ApiContext, info: ResourceInfo, crd: dict[str, Any]) -> dict[str, str]:
    """Names other CRDs of the same group hold (kinds as ``kind:<Kind>``)."""
    spec = crd.get("spec") or {}
    name = crd["metadata"]["name"]
    taken: dict[str, str] = {}
    for other in ctx.cache.objects(ctx.prefix(info, "")):
        other_name = (other.get("metadata") or {}).get("name", "")
        other_spec = other.get("spec") or {}
        if other_name == name or other_spec.get("group") != spec.get("group"):
            continue
        accepted = (other.get("status") or {}).get("acceptedNames") or {}
        for key in ("plural", "singular"):
            if accepted.get(key):
                taken[str(accepted[key])] = other_name
        for short in accepted.get("shortNames") or []:
            taken[str(short)] = other_name
        if accepted.get("kind"):
            taken[f"kind:{accepted['kind']}"] = other_name
    return taken


def before_create(ctx: ApiContext, info: ResourceInfo, obj: dict[str, Any]) -> None:
    if is_crd(info):
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if CLEANUP_FINALIZER not in finalizers:
            meta["finalizers"] = [*finalizers, CLEANUP_FINALIZER]
        obj["status"] = accepted_status(obj, _taken(ctx, info, obj), now_rfc3339())
    elif info.custom is not None and info.custom.terminating:
        raise ApiError(
            "create not allowed while custom resource definition is terminating", 405, "MethodNotAllowed"
        )


def before_update(ctx: ApiContext, info: ResourceInfo, old: dict[str, Any], new: dict[str, Any]) -> None:
    if is_crd(info) and not (new.get("metadata") or {}).get("deletionTimestamp"):
        status = accepted_status(new, _taken(ctx, info, new), now_rfc3339(), new.get("status") or {})
        new["status"] = {**(new.get("status") or {}), **status}
