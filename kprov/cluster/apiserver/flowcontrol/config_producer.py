"""Creating and maintaining the bootstrap APF objects at API server start (every server,
idempotently), as kube-apiserver's configuration producer does:

- mandatory objects are created when missing and their spec is reset to the bootstrap one
  on every start (the annotation is set to ``"true"``); the ``exempt`` level keeps its
  ``nominalConcurrencyShares`` and ``lendablePercent``, which operators may change;
- suggested objects are created when missing; an existing one is reset only while its
  ``apf.kubernetes.io/autoupdate-spec`` annotation says ``true`` (or, with no readable
  annotation, while it is still at generation 1, which then gains the annotation).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.flowcontrol.bootstrap_objects import (
    AUTOUPDATE_ANNOTATION,
    mandatory_flow_schemas,
    mandatory_priority_levels,
    suggested_flow_schemas,
    suggested_priority_levels,
)
from kprov.cluster.apiserver.handlers.writes import create_object, guaranteed_update
from kprov.cluster.apiserver.request.status import ApiError

__all__ = ["ensure_bootstrap_objects", "should_update_suggested"]

_log = logging.getLogger(__name__)
_GROUP = "flowcontrol.apiserver.k8s.io"
_TRUTHY = {"1", "t", "T", "TRUE", "true", "True"}
_FALSY = {"0", "f", "F", "FALSE", "false", "False"}


def should_update_suggested(existing: dict[str, Any]) -> bool:
    """Whether a suggested object's spec is the server's to keep current (Go's ParseBool
    of the annotation; without a readable one, only an object never changed since creation)."""
    meta = existing.get("metadata") or {}
    value = (meta.get("annotations") or {}).get(AUTOUPDATE_ANNOTATION)
    if value in _TRUTHY:
        return True
    if value in _FALSY:
        return False
    return int(meta.get("generation") or 0) == 1


def _wanted_spec(existing: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(wanted["spec"])
    if wanted["kind"] == "PriorityLevelConfiguration" and spec.get("type") == "Exempt":
        old = (existing.get("spec") or {}).get("exempt") or {}
        for field in ("nominalConcurrencyShares", "lendablePercent"):
            if field in old:
                spec["exempt"][field] = old[field]
    return spec


async def _ensure(ctx: ApiContext, info: ResourceInfo, wanted: dict[str, Any], mandatory: bool) -> None:
    try:
        await create_object(ctx, None, info, "", copy.deepcopy(wanted))
        return
    except ApiError as exc:
        if exc.code != 409:
            raise

    def reset(obj: dict[str, Any]) -> dict[str, Any]:
        if not mandatory and not should_update_suggested(obj):
            return obj
        obj["spec"] = _wanted_spec(obj, wanted)
        annotations = obj["metadata"].setdefault("annotations", {})
        annotations[AUTOUPDATE_ANNOTATION] = "true"
        return obj

    await guaranteed_update(ctx, info, "", wanted["metadata"]["name"], reset)


async def ensure_bootstrap_objects(ctx: ApiContext) -> None:
    levels = ctx.registry.get(_GROUP, "v1", "prioritylevelconfigurations")
    schemas = ctx.registry.get(_GROUP, "v1", "flowschemas")
    assert levels is not None and schemas is not None
    for obj in mandatory_priority_levels():
        await _ensure(ctx, levels, obj, True)
    for obj in mandatory_flow_schemas():
        await _ensure(ctx, schemas, obj, True)
    for obj in suggested_priority_levels():
        await _ensure(ctx, levels, obj, False)
    for obj in suggested_flow_schemas():
        await _ensure(ctx, schemas, obj, False)
    _log.info("APF bootstrap configuration ensured")
