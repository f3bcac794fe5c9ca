"""The API server's one door into kprov.cluster.api (tables, patches, defaults, validation,
protobuf, OpenAPI), so the handlers do not depend on that library's exact function names.

Each function here calls the library; where a piece is missing from the library the
fallback is the smallest correct behaviour (NAME/AGE tables, RFC 7386 merge for patches,
no defaults), never a silent success for something we cannot do (protobuf -> 415).
"""

from __future__ import annotations

import importlib
import json
from types import ModuleType
from typing import Any

from kprov.cluster.api.errors import PatchError, UnsupportedMediaType
from kprov.cluster.api.objects import parse_time
from kprov.cluster.api.resources import ResourceInfo

__all__ = [
    "apply_defaults",
    "apply_patch",
    "decode_protobuf",
    "openapi_doc",
    "openapi_index",
    "server_side_apply",
    "table",
    "unknown_fields",
    "validate",
]


def _module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"kprov.cluster.api.{name}")
    except ImportError:
        return None


def _fn(module: str, *names: str) -> Any:
    mod = _module(module)
    for name in names:
        found = getattr(mod, name, None) if mod else None
        if found is not None:
            return found
    return None


# -- tables ------------------------------------------------------------------------------------
def _age(obj: dict[str, Any]) -> str:
    import datetime as dt

    created = parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
    if created is None:
        return "<unknown>"
    seconds = int((dt.datetime.now(dt.UTC) - created).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def _partial(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def table(info: ResourceInfo, objects: list[dict[str, Any]], include_object: str) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table (without list metadata; the caller adds it)."""
    build = _fn("tables", "to_table", "build_table", "table_for")
    if build is not None:
        return dict(build(info, objects, include_object=include_object))
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [obj.get("metadata", {}).get("name", ""), _age(obj)]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = _partial(obj)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0},
            {"name": "Age", "type": "string", "format": "", "description": "Age", "priority": 0},
        ],
        "rows": rows,
    }


# -- patches -----------------------------------------------------------------------------------
def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def apply_patch(
    content_type: str, original: dict[str, Any], body: bytes, info: ResourceInfo
) -> dict[str, Any]:
    """json-patch / merge-patch / strategic-merge-patch applied to ``original`` (not mutated)."""
    try:
        patch = json.loads(body or b"null")
    except ValueError as exc:
        raise PatchError(f"error decoding patch: {exc}") from None
    lib = _fn("patch", "apply_patch")
    if lib is not None:
        return dict(lib(content_type, original, patch, info))
    if content_type == "application/json-patch+json":
        json_patch = _fn("_json_patch", "apply_json_patch")
        return dict(json_patch(json.loads(json.dumps(original)), patch))
    if content_type in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
        if not isinstance(patch, dict):
            raise PatchError("a merge patch must be a JSON object")
        return dict(_merge(original, patch))
    raise UnsupportedMediaType(f"the body of the request was in an unknown format ({content_type})")


def server_side_apply(
    live: dict[str, Any] | None, applied: dict[str, Any], manager: str, force: bool, info: ResourceInfo
) -> dict[str, Any]:
    lib = _fn("patch", "server_side_apply", "apply_configuration")
    if lib is not None:
        return dict(lib(live, applied, manager=manager, force=force, info=info))
    return dict(_merge(live or {}, applied))


# -- decoding, defaults, validation ------------------------------------------------------------
def decode_protobuf(body: bytes) -> dict[str, Any]:
    lib = _fn("protobuf", "decode", "decode_object")
    if lib is None:
        raise UnsupportedMediaType(
            "the body of the request was in an unknown format - accepted media "
            "types include: application/json, application/yaml"
        )
    return dict(lib(body))


def apply_defaults(info: ResourceInfo, obj: dict[str, Any]) -> None:
    lib = _fn("defaults", "apply_defaults", "default_object")
    if lib is not None:
        lib(info, obj)


def validate(info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None = None) -> None:
    lib = _fn("validation", "validate", "validate_object")
    if lib is not None:
        lib(info, obj, old)


def unknown_fields(info: ResourceInfo, obj: dict[str, Any]) -> list[str]:
    lib = _fn("schema", "unknown_fields")
    return list(lib(info, obj)) if lib is not None else []


# -- openapi -----------------------------------------------------------------------------------
def openapi_index() -> dict[str, Any] | None:
    lib = _fn("openapi", "index", "openapi_index", "v3_index")
    return dict(lib()) if lib is not None else None


def openapi_doc(group: str, version: str) -> dict[str, Any] | None:
    lib = _fn("openapi", "group_version_doc", "v3_document", "document")
    return dict(lib(group, version)) if lib is not None else None
