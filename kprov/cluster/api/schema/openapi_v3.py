"""OpenAPI v3 documents: the `/openapi/v3` index and one document per group-version.

Design: kubectl's apply/create/replace/edit look for a PATCH operation carrying
`x-kubernetes-group-version-kind` and a `fieldValidation` query parameter; finding it makes
kubectl rely on server-side field validation. Each document therefore has the usual item
and collection paths per resource (and its status/scale subresources) with those
parameters, plus `components.schemas` generated from the known-field schema (with the
patch-merge-key/list-type extensions) so `kubectl explain` has something to read.
The PATCH request body deliberately does not advertise strategic-merge-patch: kubectl then
computes client-side apply patches from its compiled-in types, which are authoritative.
Documents are deterministic, so their hash is a stable cache key.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from kprov.cluster.api.resources import REGISTRY, ResourceInfo
from kprov.cluster.api.schema.known_fields import FieldSpec, fields_of, raw_types, root_type, type_for_kind
from kprov.cluster.api.schema.openapi_docs import FIELD_DESCRIPTIONS

__all__ = [
    "document_hash",
    "paths_for",
    "shared_components",
    "group_version_of_path",
    "openapi_v3_document",
    "openapi_v3_index",
    "schema_name",
    "v3_document",
    "v3_index",
]

_PACKAGE_PREFIX = {
    "core": "io.k8s.api.core.v1",
    "apps": "io.k8s.api.apps.v1",
    "coordination": "io.k8s.api.coordination.v1",
    "discovery": "io.k8s.api.discovery.v1",
    "events": "io.k8s.api.events.v1",
    "authorization": "io.k8s.api.authorization.v1",
    "autoscaling": "io.k8s.api.autoscaling.v1",
    "autoscalingv2": "io.k8s.api.autoscaling.v2",
    "policy": "io.k8s.api.policy.v1",
    "authentication": "io.k8s.api.authentication.v1",
    "rbac": "io.k8s.api.rbac.v1",
    "batch": "io.k8s.api.batch.v1",
    "storage": "io.k8s.api.storage.v1",
    "networking": "io.k8s.api.networking.v1",
    "scheduling": "io.k8s.api.scheduling.v1",
    "node": "io.k8s.api.node.v1",
    "admissionregistration": "io.k8s.api.admissionregistration.v1",
    "certificates": "io.k8s.api.certificates.v1",
    "flowcontrol": "io.k8s.api.flowcontrol.v1",
    "meta": "io.k8s.apimachinery.pkg.apis.meta.v1",
}
_SCALARS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "int32": {"type": "integer", "format": "int32"},
    "int64": {"type": "integer", "format": "int64"},
    "bool": {"type": "boolean"},
    "float64": {"type": "number", "format": "double"},
    "bytes": {"type": "string", "format": "byte"},
    "Quantity": {
        "x-kubernetes-int-or-string": True,
        "description": "A resource quantity such as 100m or 1Gi.",
    },
    "IntOrString": {"x-kubernetes-int-or-string": True},
    "Time": {"type": "string", "format": "date-time"},
    "MicroTime": {"type": "string", "format": "date-time"},
    "Duration": {"type": "string"},
    "StringList": {"type": "array", "items": {"type": "string"}},
}
_FREE = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def schema_name(type_name: str) -> str:
    package, _, name = type_name.partition(".")
    return f"{_PACKAGE_PREFIX.get(package, package)}.{name}"


def _type_schema(type_name: str) -> dict[str, Any]:
    base = type_name.lstrip("*")
    if base.startswith("[]"):
        return {"type": "array", "items": _type_schema(base[2:])}
    if base.startswith("map[string]"):
        return {"type": "object", "additionalProperties": _type_schema(base[len("map[string]") :])}
    if base in _SCALARS:
        return dict(_SCALARS[base])
    if base in raw_types():
        return {"$ref": f"#/components/schemas/{schema_name(base)}"}
    return dict(_FREE)


def _field_schema(spec: FieldSpec) -> dict[str, Any]:
    schema = _type_schema(spec.type)
    if spec.patch_strategy:
        schema["x-kubernetes-patch-strategy"] = spec.patch_strategy
    if spec.merge_key:
        schema["x-kubernetes-patch-merge-key"] = spec.merge_key
    if spec.list_type:
        schema["x-kubernetes-list-type"] = spec.list_type
    if spec.list_map_keys:
        schema["x-kubernetes-list-map-keys"] = list(spec.list_map_keys)
    return schema


def _gvk(info: ResourceInfo) -> dict[str, str]:
    return {"group": info.group, "version": info.version, "kind": info.kind}


@functools.cache
def _components() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    roots = {root_type(info): info for info in REGISTRY}
    for type_name in raw_types():
        properties = {name: _field_schema(spec) for name, spec in fields_of(type_name).items()}
        for name, text in FIELD_DESCRIPTIONS.get(type_name, {}).items():
            if name in properties:
                properties[name]["description"] = text
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        required = [
            n
            for n, s in fields_of(type_name).items()
            if not s.omitempty and n not in ("apiVersion", "kind") and not s.pointer and s.type == "string"
        ]
        if required:
            schema["required"] = required
        if type_name in roots:
            schema["x-kubernetes-group-version-kind"] = [_gvk(roots[type_name])]
        schemas[schema_name(type_name)] = schema
    return {"schemas": schemas}


def _query(name: str, description: str, schema_type: str = "string") -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": schema_type},
        "uniqueItems": True,
    }


_WRITE_PARAMETERS = [
    _query("dryRun", "When present, indicates that modifications should not be persisted."),
    _query(
        "fieldManager",
        "fieldManager is a name associated with the actor or entity that is making these changes.",
    ),
    _query(
        "fieldValidation",
        "fieldValidation instructs the server on how to handle objects in the request "
        "containing unknown or duplicate fields. Valid values are: Ignore, Warn, Strict.",
    ),
]
_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")


def _parameters(parameters: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"parameters": [...]}``, or nothing when there are none: kube-openapi's types omit an
    empty list, so a document carrying one does not survive their round trip (clients such
    as the e2e suite unmarshal, marshal and compare)."""
    return {"parameters": list(parameters)} if parameters else {}


def _operation(
    info: ResourceInfo,
    verb: str,
    action: str,
    ref: dict[str, Any],
    *,
    body: bool,
    extra: list[dict[str, Any]] | None = None,
    kind: dict[str, str] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": f"{verb}{info.kind}",
        **_parameters(extra or []),
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": kind or _gvk(info),
    }
    if body:
        types = _PATCH_TYPES if verb == "patch" else ("application/json",)
        operation["requestBody"] = {
            "content": {t: {"schema": ref if verb != "patch" else {"type": "object"}} for t in types},
            "required": True,
        }
    return operation


def _paths_for(info: ResourceInfo, ref_name: str = "") -> dict[str, Any]:
    """The item, collection and status/scale paths of ``info``; ``ref_name``: the name of
    its schema in components (by default the built-in type's)."""
    prefix = f"/api/{info.version}" if not info.group else f"/apis/{info.group}/{info.version}"
    scope = "/namespaces/{namespace}" if info.namespaced else ""
    collection = f"{prefix}{scope}/{info.resource}"
    ref = {"$ref": f"#/components/schemas/{ref_name or schema_name(root_type(info))}"}
    path_params = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
    if info.namespaced:
        path_params.append(
            {"name": "namespace", "in": "path", "required": True, "schema": {"type": "string"}}
        )
    patch_params = [
        *_WRITE_PARAMETERS,
        _query("force", 'Force is going to "force" Apply requests.', "boolean"),
    ]
    paths: dict[str, Any] = {}
    if "create" in info.verbs:
        paths[collection] = {
            **_parameters(path_params[1:]),
            "post": _operation(info, "create", "post", ref, body=True, extra=_WRITE_PARAMETERS),
        }
    if "get" in info.verbs:
        paths[collection] = {
            **paths.get(collection, _parameters(path_params[1:])),
            "get": _operation(info, "list", "list", ref, body=False),
        }
        item: dict[str, Any] = {
            "parameters": path_params,
            "get": _operation(info, "read", "get", ref, body=False),
        }
        if "update" in info.verbs:
            item["put"] = _operation(info, "replace", "put", ref, body=True, extra=_WRITE_PARAMETERS)
        if "patch" in info.verbs:
            item["patch"] = _operation(info, "patch", "patch", ref, body=True, extra=patch_params)
        if "delete" in info.verbs:
            item["delete"] = _operation(info, "delete", "delete", ref, body=False)
        paths[f"{collection}/{{name}}"] = item
    for sub in info.subresources:
        if sub.name not in ("status", "scale"):
            continue
        sub_kind = {"group": sub.group, "version": sub.version, "kind": sub.kind or info.kind}
        sub_ref = (
            ref
            if sub.name == "status"
            else {"$ref": f"#/components/schemas/{schema_name(type_for_kind(sub.group, sub.kind))}"}
        )
        paths[f"{collection}/{{name}}/{sub.name}"] = {
            "parameters": path_params,
            "get": _operation(info, "read", "get", sub_ref, body=False, kind=sub_kind),
            "put": _operation(
                info, "replace", "put", sub_ref, body=True, extra=_WRITE_PARAMETERS, kind=sub_kind
            ),
            "patch": _operation(
                info, "patch", "patch", sub_ref, body=True, extra=patch_params, kind=sub_kind
            ),
        }
    return paths


@functools.cache
def _document_text(group: str, version: str) -> str:
    infos = REGISTRY.in_group_version(group, version)
    if not infos:
        raise KeyError(f"no such group-version: {group or 'core'}/{version}")
    paths: dict[str, Any] = {}
    for info in infos:
        paths.update(_paths_for(info))
    document = {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": _components(),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def paths_for(info: ResourceInfo, ref_name: str) -> dict[str, Any]:
    """The paths of a resource whose schema is ``components.schemas[ref_name]``."""
    return _paths_for(info, ref_name)


def shared_components(prefixes: tuple[str, ...]) -> dict[str, Any]:
    """The built-in schemas whose names start with one of ``prefixes`` (meta, autoscaling)."""
    return {k: v for k, v in _components()["schemas"].items() if k.startswith(prefixes)}


def openapi_v3_document(group: str, version: str) -> dict[str, Any]:
    """The document for `group`/`version` ("" = core). Raises KeyError for unknown ones (-> 404)."""
    return json.loads(_document_text(group, version))


def document_hash(group: str, version: str) -> str:
    return hashlib.sha512(_document_text(group, version).encode()).hexdigest().upper()


def _index_key(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def openapi_v3_index(base: str = "") -> dict[str, Any]:
    """`/openapi/v3`: one entry per served group-version, with its hashed URL under `base`."""
    paths = {}
    for group, version in REGISTRY.group_versions():
        key = _index_key(group, version)
        paths[key] = {"serverRelativeURL": f"{base}/openapi/v3/{key}?hash={document_hash(group, version)}"}
    return {"paths": paths}


def group_version_of_path(path: str) -> tuple[str, str] | None:
    """`api/v1` -> ("", "v1"); `apis/apps/v1` -> ("apps", "v1"); anything else -> None."""
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "api":
        return "", parts[1]
    if len(parts) == 3 and parts[0] == "apis":
        return parts[1], parts[2]
    return None


def v3_index() -> dict[str, Any]:
    """The index with server-relative URLs (the name the apiserver's adapter looks up)."""
    return openapi_v3_index("")


def v3_document(group: str, version: str) -> dict[str, Any] | None:
    """The group-version document, or None for a group-version that is not served (-> 404)."""
    try:
        return openapi_v3_document(group, version)
    except KeyError:
        return None
