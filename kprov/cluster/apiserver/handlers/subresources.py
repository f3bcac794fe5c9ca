"""Subresources other than ``status``: ``scale`` (autoscaling/v1 Scale); ``pods/binding`` is
:mod:`.binding`, ``pods/eviction`` :mod:`.eviction`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver import _lib
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.handlers.crud import resource_version_of
from kprov.cluster.apiserver.handlers.field_manager import field_manager
from kprov.cluster.apiserver.handlers.reads import get_object
from kprov.cluster.apiserver.handlers.writes import guaranteed_update
from kprov.cluster.apiserver.request.apirequest import ApiRequest
from kprov.cluster.apiserver.request.negotiation import (
    decode_body,
    media_type,
    object_response,
)
from kprov.cluster.apiserver.request.requestinfo import RequestInfo
from kprov.cluster.apiserver.request.status import ApiError

__all__ = ["handle_scale"]


def _selector_string(obj: dict[str, Any]) -> str:
    selector = (obj.get("spec") or {}).get("selector") or {}
    if obj.get("kind") == "ReplicationController":  # a plain label map, not a LabelSelector
        selector = {"matchLabels": selector}
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        values = ",".join(expr.get("values") or [])
        op = expr.get("operator", "")
        if op == "In":
            parts.append(f"{expr['key']} in ({values})")
        elif op == "NotIn":
            parts.append(f"{expr['key']} notin ({values})")
        elif op == "Exists":
            parts.append(expr["key"])
        elif op == "DoesNotExist":
            parts.append(f"!{expr['key']}")
    return ",".join(parts)


def _scale_of(obj: dict[str, Any], info: ResourceInfo | None = None) -> dict[str, Any]:
    meta = obj["metadata"]
    scale = info.custom.scale if info is not None and info.custom is not None else None
    if scale is not None:  # a custom resource: the CRD names where its numbers live
        spec_replicas = _at(obj, scale.get("specReplicasPath"))
        status_replicas = _at(obj, scale.get("statusReplicasPath"))
        selector = _at(obj, scale.get("labelSelectorPath"))
        replicas = int(spec_replicas) if isinstance(spec_replicas, int) else 0
        status: dict[str, Any] = {"replicas": int(status_replicas) if isinstance(status_replicas, int) else 0}
        if isinstance(selector, str) and selector:
            status["selector"] = selector
    else:
        replicas = int((obj.get("spec") or {}).get("replicas", 1))
        status = {
            "replicas": int((obj.get("status") or {}).get("replicas", 0)),
            "selector": _selector_string(obj),
        }
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": replicas},
        "status": status,
    }


def _at(obj: dict[str, Any], path: Any) -> Any:
    """The value at a CRD scale path such as ``.spec.replicas`` (None when absent)."""
    value: Any = obj
    for part in str(path or "").strip(".").split("."):
        if not part or not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _set_replicas(info: ResourceInfo, obj: dict[str, Any], replicas: int) -> None:
    scale = info.custom.scale if info.custom is not None else None
    parts = str((scale or {}).get("specReplicasPath") or ".spec.replicas").strip(".").split(".")
    target = obj
    for part in parts[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[parts[-1]] = replicas


async def handle_scale(
    request: ApiRequest, ctx: ApiContext, info: ResourceInfo, ri: RequestInfo
) -> web.Response:
    if ri.verb == "get":
        return object_response(request, _scale_of(await get_object(ctx, info, ri.namespace, ri.name), info))
    if ri.verb not in ("update", "patch"):
        raise ApiError("method not allowed on scale", 405, "MethodNotAllowed")
    body = request.body
    pinned: list[int | None] = [None]

    def mutate(live: dict[str, Any]) -> dict[str, Any]:
        scale = _scale_of(live, info)
        if ri.verb == "update":
            new_scale = decode_body(body, media_type(request))
        else:
            new_scale = _lib.apply_patch(media_type(request), scale, body, info, subresource="scale")
        replicas = (new_scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise ApiError(
                f'Scale.autoscaling "{ri.name}" is invalid: spec.replicas: Invalid value: {replicas}: '
                "must be greater than or equal to 0",
                422,
                "Invalid",
            )
        _set_replicas(info, live, replicas)
        return live

    if ri.verb == "update":
        pinned[0] = resource_version_of(decode_body(body, media_type(request)))
    manager = field_manager(request, "UpdateOptions" if ri.verb == "update" else "PatchOptions")
    obj = await guaranteed_update(
        ctx, info, ri.namespace, ri.name, mutate, pinned_revision=pinned[0], user=request.requester,
        subresource="scale", field_manager=manager,
    )
    return object_response(request, _scale_of(obj, info))
