"""OpenAPI v3 documents of custom resources, from their CRDs' schemas.

Design: one document per custom group-version, built from the registry's custom entries:
the usual paths (with `x-kubernetes-group-version-kind` and the `fieldValidation`
parameter, so kubectl validates on the server) and, per kind, the version's
openAPIV3Schema named as upstream names it (``com.example.stable.v1.Widget``: the group
reversed), completed with apiVersion, kind and a described reference to ObjectMeta (through
``allOf``, so `kubectl explain widget.metadata` prints the description), and carrying its
group-version-kind, so `kubectl explain widget.spec` finds it. The meta (and autoscaling,
for Scale) schemas it refers to are copied from the built-in documents. Documents are
deterministic JSON, so their hash is a stable cache key in the `/openapi/v3` index.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.api.schema.openapi_v3 import paths_for, shared_components

__all__ = ["META_DESCRIPTION", "crd_document", "crd_document_text", "crd_schema_name", "document_hash_of"]

_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_OBJECT_META = f"{_META}ObjectMeta"
META_DESCRIPTION = (
    "Standard object's metadata: the name, namespace, labels and annotations, and the fields "
    "the server sets. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)


def crd_schema_name(info: ResourceInfo) -> str:
    """``stable.example.com`` v1 Widget -> ``com.example.stable.v1.Widget``."""
    return ".".join([*reversed(info.group.split(".")), info.version, info.kind])


def _kind_schema(info: ResourceInfo) -> dict[str, Any]:
    raw = info.custom.schema if info.custom is not None else None
    schema: dict[str, Any] = copy.deepcopy(dict(raw)) if raw else {"type": "object"}
    schema.setdefault("type", "object")
    properties = schema.setdefault("properties", {})
    properties.setdefault(
        "apiVersion",
        {
            "type": "string",
            "description": "APIVersion defines the versioned schema of this representation of an object.",
        },
    )
    properties.setdefault(
        "kind",
        {
            "type": "string",
            "description": "Kind is a string value representing the REST resource this object represents.",
        },
    )
    properties["metadata"] = {  # allOf: a $ref's siblings (the description) would be ignored
        "allOf": [{"$ref": f"#/components/schemas/{_OBJECT_META}"}],
        "description": META_DESCRIPTION,
    }
    schema["x-kubernetes-group-version-kind"] = [
        {"group": info.group, "version": info.version, "kind": info.kind}
    ]
    return schema


def crd_document(infos: Iterable[ResourceInfo]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for info in infos:
        name = crd_schema_name(info)
        paths.update(paths_for(info, name))
        schemas[name] = _kind_schema(info)
    schemas.update(shared_components((_META, "io.k8s.api.autoscaling.v1.")))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def crd_document_text(infos: Iterable[ResourceInfo]) -> str:
    return json.dumps(crd_document(infos), sort_keys=True, separators=(",", ":"))


def document_hash_of(text: str) -> str:
    return hashlib.sha512(text.encode()).hexdigest().upper()
