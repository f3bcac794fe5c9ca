"""Server-side field validation (``fieldValidation=Strict|Warn|Ignore``): unknown and
duplicate fields in request bodies, answered in kube-apiserver's words.

Design: create and update bodies are checked against the kind's fields (built-in kinds:
the Go type schema; custom objects: the CRD's structural schema, plus ObjectMeta at the root
and in embedded resources) and, for JSON bodies, for keys given twice in one object (a
second parse with the standard library's pair hook, only when the client asked for
validation — orjson keeps the last value silently). Strict: 400 ``<Kind> in version "<v>"
cannot be handled as a <Kind>: strict decoding error: unknown field "spec.x", duplicate
field "spec.y"``; Warn: one ``Warning`` per problem. Server-side apply is checked as
upstream's typed conversion does, whatever the directive: a field the schema does not
declare is ``failed to create typed patch object (<ns>/<name>; <gvk>): .spec.x: field not
declared in schema`` (500, no reason); then under Strict/Warn the YAML is read again for
duplicate keys (``line 11: key "foo" already set in map``, 400 under Strict). Without the
parameter nothing is checked here (upstream's default is Warn; kprov skips the schema walk
per write that only kubectl asks for, and kubectl always sends Strict explicitly). Whatever
the directive, the unknown fields of a built-in kind are never stored: the write path drops
them (``crud``, ``_lib.drop_unknown_fields``), as upstream's decoding into Go types does.
Whatever the directive, a value of the wrong JSON type (``metadata.name: 5``) is a 400 in
encoding/json's words, as upstream's typed decoding refuses it (``check_types``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from kprov.cluster.api.errors import Cause
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.api.schema.go_types import GoTypeError, check_go_types
from kprov.cluster.api.schema.known_fields import root_type, type_for_kind
from kprov.cluster.apiserver import _lib
from kprov.cluster.apiserver.request.apirequest import ApiRequest
from kprov.cluster.apiserver.request.status import ApiError, bad_request, invalid, unclassified_error

__all__ = [
    "check_apply",
    "check_body",
    "check_patched",
    "check_subresource_object",
    "check_types",
    "json_duplicates",
    "yaml_duplicates",
]

_CHECKED = ("Strict", "Warn")


def _directive(request: ApiRequest) -> str:
    mode = request.query.get("fieldValidation", "")
    if mode not in ("", "Ignore", *_CHECKED):
        raise bad_request(
            f'fieldValidation: Unsupported value: "{mode}": supported values: "", "Ignore", "Strict", "Warn"'
        )
    return mode


# -- duplicate fields --------------------------------------------------------------------------
class _Pairs(list):  # type: ignore[type-arg]
    """A JSON object as its (key, value) pairs in order, duplicates kept."""


def _walk_pairs(value: Any, path: str, found: list[str]) -> None:
    if isinstance(value, _Pairs):
        seen: set[str] = set()
        for key, item in value:
            child = f"{path}.{key}" if path else key
            if key in seen:
                found.append(child)
            seen.add(key)
            _walk_pairs(item, child, found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk_pairs(item, f"{path}[{index}]", found)


def json_duplicates(body: bytes) -> list[str]:
    """Paths (``spec.replicas``) of keys given more than once in one JSON object."""
    try:
        tree = json.loads(body, object_pairs_hook=_Pairs)
    except (ValueError, UnicodeDecodeError):
        return []
    found: list[str] = []
    _walk_pairs(tree, "", found)
    return found


def _walk_nodes(node: yaml.Node, found: list[str]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, item in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    found.append(
                        f"line {key.start_mark.line + 1}: key {json.dumps(key.value)} already set in map"
                    )
                seen.add(key.value)
            _walk_nodes(item, found)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _walk_nodes(item, found)


def yaml_duplicates(body: bytes) -> list[str]:
    """yaml.v2's words for each key given twice in one mapping (``line 11: key "foo"
    already set in map``), lines counted from 1."""
    try:
        nodes = list(yaml.compose_all(body, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        return []
    found: list[str] = []
    for node in nodes:
        if node is not None:
            _walk_nodes(node, found)
    return found


# -- checks ------------------------------------------------------------------------------------
def _kind_and_version(info: ResourceInfo, obj: Mapping[str, Any]) -> tuple[str, str]:
    kind = str(obj.get("kind") or info.kind)
    version = str(obj.get("apiVersion") or info.api_version).rpartition("/")[2]
    return kind, version


def _check_type_meta(obj: Mapping[str, Any]) -> None:
    """A non-string kind or apiVersion fails where upstream first reads them."""
    for name in ("apiVersion", "kind"):
        value = obj.get(name)
        if value is not None and not isinstance(value, str):
            what = {bool: "bool", list: "array", dict: "object"}.get(type(value), "number")
            raise bad_request(
                "couldn't get version/kind; json parse error: json: cannot unmarshal "
                f"{what} into Go struct field .{name} of type string"
            )


def check_subresource_object(group: str, version: str, kind: str, obj: Any) -> dict[str, Any]:
    """A subresource's own body (a pod's Binding, its Eviction) decoded as upstream's typed
    decoder would: an object whose values have their Go types (400 in encoding/json's words
    otherwise); ``apiVersion`` and ``kind`` the subresource's, filled in where left out."""
    if not isinstance(obj, dict):
        raise bad_request(f"a {kind} must be an object")
    _check_type_meta(obj)
    expected = f"{group}/{version}" if group else version
    api_version, given_kind = obj.get("apiVersion") or expected, obj.get("kind") or kind
    if api_version != expected:
        raise bad_request(
            f"the API version in the data ({api_version}) does not match the expected API version "
            f"({expected})"
        )
    if given_kind != kind:
        raise bad_request(f"the kind in the data ({given_kind}) does not match the expected kind ({kind})")
    try:
        check_go_types(type_for_kind(group, kind, version), obj)
    except GoTypeError as exc:
        raise bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {exc}') from None
    return {**obj, "apiVersion": api_version, "kind": kind}


def check_types(info: ResourceInfo, obj: Any) -> None:
    """A create or update body decoded as kube-apiserver's typed decoder would: a value of
    the wrong JSON type is a 400 (``ConfigMap in version "v1" cannot be handled as a
    ConfigMap: json: cannot unmarshal ...``); a non-string kind or apiVersion fails where
    upstream first reads them."""
    if not isinstance(obj, dict):
        return
    _check_type_meta(obj)
    if obj.get("kind") not in (None, "", info.kind):
        return  # a body of another kind: refused by the handler's kind check
    try:
        check_go_types(root_type(info), obj)
    except GoTypeError as exc:
        kind, version = _kind_and_version(info, obj)
        handled = f'{kind} in version "{version}" cannot be handled as a {info.kind}'
        raise bad_request(f"{handled}: {exc}") from None


def check_body(
    request: ApiRequest, info: ResourceInfo, obj: Mapping[str, Any], content_type: str
) -> list[str]:
    """Warnings for a create or update body (``obj``, decoded from ``request.body``) under
    Warn; raises 400 under Strict."""
    if _directive(request) not in _CHECKED:
        return []
    problems = [f'unknown field "{p}"' for p in _lib.unknown_fields(info, obj)]
    if content_type in ("", "application/json", "*/*", "text/plain"):
        problems += [f'duplicate field "{p}"' for p in json_duplicates(request.body)]
    if not problems:
        return []
    if _directive(request) == "Strict":
        kind, version = _kind_and_version(info, obj)
        raise bad_request(
            f'{kind} in version "{version}" cannot be handled as a {info.kind}: '
            f"strict decoding error: {', '.join(problems)}"
        )
    return problems


def _typed_patch_error(
    info: ResourceInfo, applied: Mapping[str, Any], namespace: str, paths: list[str]
) -> ApiError:
    meta = applied.get("metadata") or {}
    name = meta.get("name", "") if isinstance(meta, Mapping) else ""
    group_version = str(applied.get("apiVersion") or info.api_version)
    if "/" not in group_version:  # the core group: Go prints "/v1, Kind=Pod"
        group_version = f"/{group_version}"
    gvk = f"{group_version}, Kind={applied.get('kind') or info.kind}"
    errors = [f".{p}: field not declared in schema" for p in paths]
    text = errors[0] if len(errors) == 1 else "errors:\n  " + "\n  ".join(errors)
    return unclassified_error(f"failed to create typed patch object ({namespace}/{name}; {gvk}): {text}")


def check_apply(
    request: ApiRequest, info: ResourceInfo, applied: Mapping[str, Any], namespace: str
) -> list[str]:
    """Server-side apply's checks: undeclared fields always fail (as upstream's typed
    conversion does); duplicate YAML keys fail under Strict and warn under Warn."""
    unknown = _lib.unknown_fields(info, applied)
    if unknown:
        raise _typed_patch_error(info, applied, namespace if info.namespaced else "", unknown)
    mode = _directive(request)
    if mode not in _CHECKED:
        return []
    duplicates = yaml_duplicates(request.body)
    if duplicates and mode == "Strict":
        raise bad_request(
            "error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal errors:\n  "
            + "\n  ".join(duplicates)
        )
    return duplicates


def check_patched(request: ApiRequest, info: ResourceInfo, patched: Mapping[str, Any]) -> list[str]:
    """Unknown fields of a patched object (JSON, merge or strategic merge patch): warnings
    under Warn; under Strict a 422 naming each field."""
    if _directive(request) not in _CHECKED:
        return []
    unknown = _lib.unknown_fields(info, patched)
    if unknown and _directive(request) == "Strict":
        name = str((patched.get("metadata") or {}).get("name", ""))
        raise invalid(info, name, [Cause(f, "FieldValueInvalid", f'unknown field "{f}"') for f in unknown])
    return [f'unknown field "{p}"' for p in unknown]
