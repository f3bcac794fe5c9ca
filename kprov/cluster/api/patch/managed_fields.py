"""Field ownership (metadata.managedFields) as server-side apply records it.

Design: an object's fields become a set of paths, each path a tuple of FieldsV1 path
elements: `f:<name>` (struct or map field), `k:<json>` (an element of a keyed list, keyed
by its patch merge key, or its list-map keys), `v:<json>` (a value of a set-like primitive
list), and `.` (marks a keyed element itself). Atomic lists and scalars are leaves.
`paths_of` builds the set, `to_fields_v1`/`from_fields_v1` convert to and from the
FieldsV1 trie stored in managedFields, `value_at` reads the value a path points to.
`record_update` is what the server calls on every non-apply write so later applies see
who owns what. Which lists are keyed or sets comes from :mod:`.shapes` (built-in kinds'
markers, custom resources' ``x-kubernetes-list-*``). Approximation: a built-in list is keyed
by its patch merge key alone (not every list-map key), so container ports are keyed by
containerPort, not (port, protocol).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from kprov.cluster.api.patch.shapes import Shape, field_shape, root_shape
from kprov.cluster.api.resources import ResourceInfo, api_version
from kprov.cluster.api.schema.known_fields import FieldSpec

__all__ = [
    "Path",
    "entries_of",
    "entry_head",
    "entry_matches",
    "is_missing",
    "object_paths",
    "from_fields_v1",
    "item_key",
    "list_keys",
    "paths_of",
    "record_update",
    "to_fields_v1",
    "value_at",
    "write_entries",
]

Path = tuple[str, ...]
_MISSING = object()
_IDENTITY_META = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "managedFields",
        "selfLink",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    }
)


def list_keys(spec: FieldSpec | None) -> tuple[str, ...]:
    """Which element fields identify a list element; () for atomic or set lists."""
    if spec is None:
        return ()
    if spec.merge_key and "merge" in spec.patch_strategy:
        return (spec.merge_key,)
    if spec.list_type == "map" and spec.list_map_keys:
        return spec.list_map_keys
    return ()


def _is_set(spec: FieldSpec | None) -> bool:
    if spec is None:
        return False
    if spec.list_type == "set":
        return True
    return "merge" in spec.patch_strategy and not spec.merge_key


def item_key(item: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    return "k:" + json.dumps({k: item[k] for k in keys if k in item}, sort_keys=True, separators=(",", ":"))


def paths_of(value: Any, shape: Shape, prefix: Path = ()) -> set[Path]:
    """Every owned path in `value` (a struct or map of `shape`: a type name or a CRD schema node)."""
    found: set[Path] = set()
    if not isinstance(value, dict) or not value:
        return found
    for key, child in value.items():
        spec, child_shape, item_shape = field_shape(shape, key)
        path = (*prefix, f"f:{key}")
        if isinstance(child, dict) and child:
            found |= paths_of(child, child_shape, path)
        elif isinstance(child, list) and (keys := list_keys(spec)):
            for item in child:
                if isinstance(item, dict):
                    item_path = (*path, item_key(item, keys))
                    found.add((*item_path, "."))
                    found |= paths_of(item, item_shape, item_path)
        elif isinstance(child, list) and _is_set(spec):
            found |= {(*path, "v:" + json.dumps(item, separators=(",", ":"))) for item in child}
        else:
            found.add(path)
    return found


def object_paths(info: ResourceInfo, obj: Mapping[str, Any], *, subresource: str = "") -> set[Path]:
    """The owned paths of a whole object: no identity metadata, status only for the status subresource."""
    paths = paths_of(dict(obj), root_shape(info))
    keep: set[Path] = set()
    for path in paths:
        head = path[0]
        if head in ("f:apiVersion", "f:kind"):
            continue
        if head == "f:metadata" and len(path) > 1 and path[1][2:] in _IDENTITY_META:
            continue
        if (head == "f:status") != (subresource == "status"):
            continue
        keep.add(path)
    return keep


def _find_item(items: list[Any], element: str) -> Any:
    wanted = json.loads(element[2:])
    for item in items:
        if isinstance(item, dict) and all(item.get(k, _MISSING) == v for k, v in wanted.items()):
            return item
    return _MISSING


def value_at(obj: Any, path: Path) -> Any:
    """The value `path` points at, or the module's missing marker (compare with `is_missing`)."""
    current = obj
    for element in path:
        if element == ".":
            return current
        if element.startswith("f:"):
            if not isinstance(current, dict) or element[2:] not in current:
                return _MISSING
            current = current[element[2:]]
        elif element.startswith("k:"):
            if not isinstance(current, list):
                return _MISSING
            current = _find_item(current, element)
            if current is _MISSING:
                return _MISSING
        elif element.startswith("v:"):
            value = json.loads(element[2:])
            return value if isinstance(current, list) and value in current else _MISSING
        else:
            return _MISSING
    return current


def is_missing(value: Any) -> bool:
    return value is _MISSING


def to_fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    trie: dict[str, Any] = {}
    for path in sorted(paths):
        node = trie
        for element in path:
            node = node.setdefault(element, {})
    return trie


def from_fields_v1(trie: Mapping[str, Any], prefix: Path = ()) -> set[Path]:
    paths: set[Path] = set()
    for element, child in trie.items():
        path = (*prefix, element)
        if isinstance(child, dict) and child:
            paths |= from_fields_v1(child, path)
        else:
            paths.add(path)
    return paths


def entries_of(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(((obj.get("metadata") or {}).get("managedFields")) or [])


def entry_matches(entry: Mapping[str, Any], manager: str, operation: str, subresource: str) -> bool:
    return (
        entry.get("manager") == manager
        and entry.get("operation") == operation
        and entry.get("subresource", "") == subresource
    )


def write_entries(obj: dict[str, Any], entries: list[tuple[dict[str, Any], set[Path]]]) -> None:
    """Store (entry, paths) pairs as metadata.managedFields, dropping entries that own nothing."""
    kept = []
    for entry, paths in entries:
        if not paths:
            continue
        kept.append({**entry, "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(paths)})
    metadata = obj.setdefault("metadata", {})
    if kept:
        metadata["managedFields"] = kept
    else:
        metadata.pop("managedFields", None)


def record_update(
    info: ResourceInfo,
    old: Mapping[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    *,
    now: str,
    subresource: str = "",
    operation: str = "Update",
) -> None:
    """Give `manager` the fields this write changed (taking them from others); in place on `new`.

    Call on create (old None), update and non-apply patches, before storing `new`.
    """
    old = old or {}
    new_paths = object_paths(info, new, subresource=subresource)
    old_paths = object_paths(info, old, subresource=subresource)
    changed = {p for p in new_paths if p not in old_paths or value_at(old, p) != value_at(new, p)}
    gone = old_paths - new_paths
    entries: list[tuple[dict[str, Any], set[Path]]] = []
    mine: set[Path] | None = None
    for entry in entries_of(old if old else new):
        paths = from_fields_v1(entry.get("fieldsV1") or {})
        paths -= gone
        if entry_matches(entry, manager, operation, subresource):
            mine = paths | changed
            entries.append(({**entry_head(entry), "time": now}, mine))
        else:
            entries.append((entry_head(entry), paths - changed))
    if mine is None and changed:
        head = {"manager": manager, "operation": operation, "apiVersion": api_version(info), "time": now}
        if subresource:
            head["subresource"] = subresource
        entries.append((head, changed))
    write_entries(new, entries)


def entry_head(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in ("fieldsType", "fieldsV1")}
