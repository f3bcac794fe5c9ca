"""The API server's one door into kprov.cluster.api (tables, patches, defaults, validation,
protobuf, managed fields, OpenAPI), so handlers depend on this small surface only.

OpenAPI is looked up lazily: without it /openapi/v3 answers 404 (kubectl then needs
``--validate=false`` for apply), which is the honest fallback.
"""

from __future__ import annotations

import importlib
from typing import Any

from kprov.cluster.api import defaults as _defaults
from kprov.cluster.api import managed_fields as _managed
from kprov.cluster.api import patch as _patch
from kprov.cluster.api import protobuf as _protobuf
from kprov.cluster.api import schema as _schema
from kprov.cluster.api import validation as _validation
from kprov.cluster.api.objects import now_rfc3339
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver.status import invalid

__all__ = [
    "apply_defaults",
    "apply_patch",
    "decode_protobuf",
    "openapi_doc",
    "openapi_index",
    "record_update",
    "table",
    "unknown_fields",
    "validate",
]


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(f"kprov.cluster.api.{name}")
    except ImportError:
        return None


def _name_age_table(objects: list[dict[str, Any]], include_object: str, no_headers: bool) -> dict[str, Any]:
    """NAME/AGE only: used while the library's printers are unavailable."""
    columns = [
        {"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0},
        {"name": "Created", "type": "string", "format": "", "description": "Created", "priority": 0},
    ]
    rows = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        row: dict[str, Any] = {"cells": [meta.get("name", ""), meta.get("creationTimestamp", "")]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object == "Metadata":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": meta,
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": [] if no_headers else columns,
        "rows": rows,
    }


def table(
    info: ResourceInfo, objects: list[dict[str, Any]], include_object: str, no_headers: bool = False
) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table (the caller sets its list metadata)."""
    if include_object not in ("Metadata", "Object", "None"):
        include_object = "Metadata"
    tables = _optional("tables")
    if tables is None:
        return _name_age_table(objects, include_object, no_headers)
    return dict(tables.to_table(info, objects, include_object=include_object, no_headers=no_headers))


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
    _defaults.apply_defaults(info, obj)


def validate(info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None = None) -> None:
    causes = _validation.validate(info, obj, old)
    if causes:
        raise invalid(info, str((obj.get("metadata") or {}).get("name", "")), list(causes))


def unknown_fields(info: ResourceInfo, obj: dict[str, Any]) -> list[str]:
    return [path.lstrip(".") for path in _schema.unknown_fields(info, obj)]


def _openapi() -> Any:
    return _optional("openapi")


def _fallback_doc(group: str, version: str) -> dict[str, Any] | None:
    """The minimum kubectl needs (KUBECTL.md §3): per resource a PATCH operation carrying
    x-kubernetes-group-version-kind and a fieldValidation query parameter."""
    from kprov.cluster.api.resources import REGISTRY

    infos = REGISTRY.in_group_version(group, version)
    if not infos:
        return None
    base = f"/apis/{group}/{version}" if group else f"/api/{version}"
    params = [
        {"name": n, "in": "query", "schema": {"type": "string"}}
        for n in ("dryRun", "fieldManager", "fieldValidation", "force")
    ]
    paths: dict[str, Any] = {}
    for info in infos:
        scope = (
            f"{base}/namespaces/{{namespace}}/{info.resource}"
            if info.namespaced
            else f"{base}/{info.resource}"
        )
        gvk = {"group": info.group, "version": info.version, "kind": info.kind}
        paths[scope + "/{name}"] = {
            "patch": {
                "operationId": f"patch{info.kind}",
                "parameters": params,
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
                "requestBody": {
                    "content": {
                        "application/json-patch+json": {},
                        "application/merge-patch+json": {},
                        "application/apply-patch+yaml": {},
                    }
                },
                "responses": {"200": {"description": "OK"}},
            },
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def openapi_index() -> dict[str, Any] | None:
    module = _openapi()
    build = (getattr(module, "index", None) or getattr(module, "v3_index", None)) if module else None
    if build:
        return dict(build())
    from kprov.cluster.api.resources import REGISTRY

    paths = {}
    for group, version in REGISTRY.group_versions():
        rel = f"apis/{group}/{version}" if group else f"api/{version}"
        paths[rel] = {"serverRelativeURL": f"/openapi/v3/{rel}?hash=kprov-{version}"}
    return {"paths": paths}


def openapi_doc(group: str, version: str) -> dict[str, Any] | None:
    module = _openapi()
    build = (
        (getattr(module, "group_version_doc", None) or getattr(module, "v3_document", None))
        if module
        else None
    )
    return dict(build(group, version)) if build else _fallback_doc(group, version)
