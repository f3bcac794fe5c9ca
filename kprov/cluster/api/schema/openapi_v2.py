"""OpenAPI v2 (``/openapi/v2``): one Swagger 2.0 document with every served kind's definition.

Design: clients that still read the v2 document (the conformance suite's CRD publishing
tests, tools that look kinds up by ``x-kubernetes-group-version-kind``) need the definitions,
not the paths; so the document carries ``definitions`` only (paths are served by the per
group-version v3 documents kubectl reads). Built-in definitions are the v3 component
schemas with their references rewritten to ``#/definitions/`` (computed once). Each served
version of a custom resource gets a definition named as upstream names it
(``com.example.stable.v1.Widget``: the group reversed, then version and kind), made from
its openAPIV3Schema the way kube-apiserver makes a v2 one: a schema that preserves unknown
fields at its root (or none at all) becomes a bare ``type: object`` (anything else would
make v2 validators reject unknown fields), and below the root the keywords v2 cannot
express are dropped (allOf/anyOf/oneOf/not; the type, properties and items of nullable
nodes; properties and items under x-kubernetes-preserve-unknown-fields; an array's type
when it has no items). apiVersion, kind and a reference to ObjectMeta are added, and the
group-version-kind extension. The caller caches the serialized document per registry.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable, Mapping
from typing import Any

from kprov.cluster.api.crd.openapi import META_DESCRIPTION, crd_schema_name
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.api.schema.openapi_v3 import shared_components

__all__ = ["crd_definition", "document", "v2_schema"]

_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_API_VERSION = {
    "type": "string",
    "description": "APIVersion defines the versioned schema of this representation of an object.",
}
_KIND = {
    "type": "string",
    "description": "Kind is a string value representing the REST resource this object represents.",
}
_DROPPED = ("allOf", "anyOf", "oneOf", "not")


@functools.cache
def _builtin_text() -> str:
    schemas = shared_components(("",))
    return json.dumps(schemas, sort_keys=True).replace('"#/components/schemas/', '"#/definitions/')


def _builtin() -> dict[str, Any]:
    return json.loads(_builtin_text())


def v2_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A structural v3 schema node as v2 can carry it (a new dict; ``schema`` is unchanged)."""
    out = {k: v for k, v in schema.items() if k not in _DROPPED}
    if out.pop("nullable", False):
        for key in ("type", "items", "properties"):
            out.pop(key, None)
    if out.get("x-kubernetes-preserve-unknown-fields"):
        out.pop("items", None)
        out.pop("properties", None)
    properties = out.get("properties")
    if isinstance(properties, Mapping):
        nullable = {k for k, v in properties.items() if isinstance(v, Mapping) and v.get("nullable")}
        out["properties"] = {k: v2_schema(v) for k, v in properties.items() if isinstance(v, Mapping)}
        if nullable and isinstance(out.get("required"), list):
            out["required"] = [r for r in out["required"] if r not in nullable]
            if not out["required"]:
                del out["required"]
    items = out.get("items")
    if isinstance(items, Mapping):
        out["items"] = v2_schema(items)
    elif out.get("type") == "array":
        out.pop("type")
    additional = out.get("additionalProperties")
    if isinstance(additional, Mapping):
        if additional.get("nullable"):
            out.pop("required", None)
        out["additionalProperties"] = v2_schema(additional)
    return out


def crd_definition(info: ResourceInfo) -> dict[str, Any]:
    """The v2 definition of one served version of a custom resource."""
    raw = info.custom.schema if info.custom is not None else None
    gvk = [{"group": info.group, "version": info.version, "kind": info.kind}]
    if not raw or raw.get("x-kubernetes-preserve-unknown-fields"):
        return {"type": "object", "x-kubernetes-group-version-kind": gvk}
    definition = v2_schema(copy.deepcopy(dict(raw)))
    properties = definition.setdefault("properties", {})
    properties["metadata"] = {"$ref": f"#/definitions/{_OBJECT_META}", "description": META_DESCRIPTION}
    properties["apiVersion"] = dict(_API_VERSION)
    properties["kind"] = dict(_KIND)
    definition["x-kubernetes-group-version-kind"] = gvk
    return definition


def document(custom: Iterable[ResourceInfo]) -> dict[str, Any]:
    """The whole document: built-in definitions and one per served custom version."""
    definitions = _builtin()
    for info in custom:
        definitions[crd_schema_name(info)] = crd_definition(info)
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": {},
        "definitions": definitions,
    }
