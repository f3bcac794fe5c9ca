"""The API server's one door into kprov.cluster.api (tables, patches, defaults, validation,
protobuf, managed fields, OpenAPI), so handlers depend on this small surface only."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from kprov.cluster.api import defaults as _defaults
from kprov.cluster.api.crd import openapi as _openapi_crd
from kprov.cluster.api.crd import pruning as _crd_pruning
from kprov.cluster.api.crd import structural as _crd_schema
from kprov.cluster.api.kinds import beta_conversion
from kprov.cluster.api.objects import now_rfc3339
from kprov.cluster.api.patch import dispatch as _patch
from kprov.cluster.api.patch import managed_fields as _managed
from kprov.cluster.api.printers import tables as _tables
from kprov.cluster.api.resources import Registry, ResourceInfo
from kprov.cluster.api.schema import known_fields as _schema
from kprov.cluster.api.schema import openapi_v2 as _openapi_v2
from kprov.cluster.api.schema import openapi_v3 as _openapi
from kprov.cluster.api.validation import core as _validation
from kprov.cluster.api.validation import field_errors as _field_errors
from kprov.cluster.api.wire import protobuf_decode as _protobuf
from kprov.cluster.apiserver.request.status import invalid

__all__ = [
    "apply_defaults",
    "apply_patch",
    "decode_protobuf",
    "drop_unknown_fields",
    "openapi_doc",
    "openapi_index",
    "openapi_v2",
    "record_update",
    "table",
    "unknown_fields",
    "validate",
]


def table(
    info: ResourceInfo, objects: list[dict[str, Any]], include_object: str, no_headers: bool = False
) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table (the caller sets its list metadata)."""
    if include_object not in ("Metadata", "Object", "None"):
        include_object = "Metadata"
    return dict(_tables.to_table(info, objects, include_object=include_object, no_headers=no_headers))


def apply_patch(
    content_type: str,
    live: dict[str, Any] | None,
    body: bytes,
    info: ResourceInfo,
    *,
    field_manager: str = "",
    force: bool = False,
    subresource: str = "",
) -> dict[str, Any]:
    """Any of the four patch types (apply-patch+yaml = server-side apply; live None = create)."""
    return dict(
        _patch.apply_patch(
            info,
            live,
            body,
            content_type,
            field_manager=field_manager or None,
            force=force,
            subresource=subresource,
        )
    )


def record_update(
    info: ResourceInfo, old: dict[str, Any] | None, new: dict[str, Any], manager: str, subresource: str = ""
) -> None:
    """Give ``manager`` the fields this (non-apply) write changed, in new.metadata.managedFields."""
    if manager:
        _managed.record_update(info, old, new, manager, now=now_rfc3339(), subresource=subresource)


def decode_protobuf(body: bytes) -> dict[str, Any]:
    return dict(_protobuf.decode_object(body))


def apply_defaults(info: ResourceInfo, obj: dict[str, Any]) -> None:
    """Defaults of the kind; for custom objects: pruning, then the schema's defaults."""
    if info.custom is not None:
        _crd_pruning.prune(info.custom.node, obj)
        _crd_pruning.default(info.custom.node, obj)
        return
    _defaults.apply_defaults(info, obj)


def drop_unknown_fields(info: ResourceInfo, obj: dict[str, Any]) -> None:
    """Remove the fields a built-in kind does not declare, in place, as kube-apiserver's
    decoding into its Go types does whatever ``fieldValidation`` says (Strict and Warn only
    decide whether the client hears of them). Custom objects are pruned by their schema
    (:func:`apply_defaults`); a kind without a known Go type is left as it is."""
    if info.custom is None:
        _schema.drop_unknown(info, obj)


def validate(
    info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None = None, subresource: str = ""
) -> None:
    causes = _validation.validate(info, obj, old, subresource)
    if info.custom is not None:
        errors = _field_errors.Errors()
        if old is None:
            _crd_schema.validate(info.custom.node, obj, errors)
        else:
            _crd_schema.validate(info.custom.node, obj, errors, old=old)
        causes = [*causes, *errors.causes]
    if causes:
        raise invalid(info, str((obj.get("metadata") or {}).get("name", "")), list(causes))


_STORED_ELSEWHERE = frozenset({("autoscaling", "HorizontalPodAutoscaler"), ("events.k8s.io", "Event")})
_VIEWS = beta_conversion.VIEWS  # optional beta versions whose objects are stored in v1


def converts(info: ResourceInfo) -> bool:
    """Whether stored objects of ``info`` can differ from what a read shows (a custom
    resource with several versions, or with defaults to fill in from storage; the built-in
    kinds stored in another version: HPAs in autoscaling/v1, events.k8s.io/v1 Events, the
    optional beta views of v1 kinds)."""
    custom = info.custom
    if custom is None:
        return (info.group, info.kind) in _STORED_ELSEWHERE or (info.group, info.version) in _VIEWS
    return (
        custom.storage_version != info.version or len(custom.nodes) > 1 or custom.defaults_on_read
    )


def as_version(info: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
    """A stored custom object as ``info``'s version shows it (conversion None: the same
    fields under another apiVersion); other objects unchanged."""
    if info.custom is None or obj.get("apiVersion") == info.api_version:
        return obj
    return {**obj, "apiVersion": info.api_version}


def unknown_fields(info: ResourceInfo, obj: Mapping[str, Any]) -> list[str]:
    """Paths (``spec.foo``) of the fields of ``obj`` its kind does not declare (custom
    objects: the schema's undeclared fields, then unknown ObjectMeta fields)."""
    if info.custom is not None:
        found = _crd_pruning.prune(info.custom.node, copy.deepcopy(dict(obj)))
        return [*found, *_crd_pruning.unknown_metadata(info.custom.node, obj)]
    return [path.lstrip(".") for path in _schema.unknown_fields(info, obj)]


def _custom_group_versions(registry: Registry) -> dict[tuple[str, str], list[ResourceInfo]]:
    found: dict[tuple[str, str], list[ResourceInfo]] = {}
    for info in registry:
        if info.custom is not None:
            found.setdefault((info.group, info.version), []).append(info)
    return found


def openapi_index(registry: Registry) -> dict[str, Any]:
    """``/openapi/v3``: the built-in group-versions and every custom one."""
    index = dict(_openapi.v3_index())
    paths = dict(index["paths"])
    for (group, version), infos in _custom_group_versions(registry).items():
        digest = _openapi_crd.document_hash_of(_openapi_crd.crd_document_text(infos))
        key = f"apis/{group}/{version}"
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {**index, "paths": paths}


def openapi_doc(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    infos = _custom_group_versions(registry).get((group, version))
    if infos:
        return _openapi_crd.crd_document(infos)
    doc = _openapi.v3_document(group, version)
    return dict(doc) if doc is not None else None


def openapi_v2(registry: Registry) -> dict[str, Any]:
    """``/openapi/v2``: the built-in definitions and one per served custom version."""
    return _openapi_v2.document(info for info in registry if info.custom is not None)
