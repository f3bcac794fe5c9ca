"""Field ownership (metadata.managedFields) as server-side apply records it.

Design: an object's fields become a set of paths, each path a tuple of FieldsV1 path
elements: `f:<name>` (struct or map field), `k:<json>` (an element of a keyed list, keyed
by its patch merge key, or its list-map keys), `v:<json>` (a value of a set-like primitive
list), and `.` (marks a keyed element itself). Atomic lists and scalars are leaves.
`paths_of` builds the set, `to_fields_v1`/`from_fields_v1` convert to and from the
FieldsV1 trie stored in managedFields, `value_at` reads the value a path points to.
`record_update` is what the server calls on every non-apply write so later applies see
who owns what. Which lists are keyed or sets comes from :mod:`.shapes` (built-in kinds'
+listType/+listMapKey markers, else their patch merge keys; custom resources'
``x-kubernetes-list-*``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from kprov.cluster.api.patch.shapes import Shape, field_shape, root_shape
from kprov.cluster.api.pod_defaults import spec_json
from kprov.cluster.api.resources import ResourceInfo, api_version
from kprov.cluster.api.schema.known_fields import FieldSpec

__all__ = [
    "Path",
    "changed_paths",
    "entries_of",
    "fields_v1_of",
    "entry_head",
    "entry_matches",
    "is_missing",
    "object_paths",
    "from_fields_v1",
    "is_set",
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
    """Which element fields identify a list element; () for atomic or set lists. A list's
    +listType/+listMapKey markers decide (Service ports are keyed by port *and* protocol);
    a list without them is keyed by its patch merge key, as upstream's OpenAPI derives it."""
    if spec is None or spec.list_type in ("set", "atomic"):
        return ()
    if spec.list_type == "map":
        return spec.list_map_keys or ((spec.merge_key,) if spec.merge_key else ())
    if spec.merge_key and "merge" in spec.patch_strategy:
        return (spec.merge_key,)
    return ()


def is_set(spec: FieldSpec | None) -> bool:
    """A list whose values are members (+listType=set, or merge-patched without a key)."""
    if spec is None:
        return False
    if spec.list_type:
        return spec.list_type == "set"
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
        elif isinstance(child, list) and is_set(spec):
            found |= {(*path, "v:" + json.dumps(item, separators=(",", ":"))) for item in child}
        else:
            found.add(path)
    return found


def _kept(path: Path, subresource: str) -> bool:
    """Whether a write through ``subresource`` owns ``path``: no identity metadata, status only
    for the status subresource."""
    head = path[0]
    if head in ("f:apiVersion", "f:kind"):
        return False
    if head == "f:metadata" and len(path) > 1 and path[1][2:] in _IDENTITY_META:
        return False
    return (head == "f:status") == (subresource == "status")


def object_paths(info: ResourceInfo, obj: Mapping[str, Any], *, subresource: str = "") -> set[Path]:
    """The owned paths of a whole object: no identity metadata, status only for the status subresource."""
    return {path for path in paths_of(dict(obj), root_shape(info)) if _kept(path, subresource)}


def fields_v1_of(info: ResourceInfo, obj: Mapping[str, Any], *, subresource: str = "") -> dict[str, Any]:
    """``to_fields_v1(object_paths(...))`` built straight from the object, without the path
    tuples: a create's manager owns every field (about half the cost of the two steps)."""
    skipped = ("status", "apiVersion", "kind")
    heads = ("status",) if subresource == "status" else [k for k in obj if k not in skipped]
    top = {key: obj[key] for key in heads if key in obj}
    meta = top.get("metadata")
    if isinstance(meta, dict) and meta:
        kept = {key: value for key, value in meta.items() if key not in _IDENTITY_META}
        if kept:
            top["metadata"] = kept
        else:
            del top["metadata"]
    shape = root_shape(info)
    spec = top.get("spec")
    memo_key = spec_json(spec) if isinstance(shape, str) and isinstance(spec, dict) and spec else None
    if memo_key is None or not isinstance(shape, str):
        return _trie_of(top, shape)
    trie = _rest_trie(shape, {key: value for key, value in top.items() if key != "spec"})
    if spec_trie := _spec_trie(field_shape(shape, "spec")[1], memo_key):
        trie["f:spec"] = spec_trie
    return dict(sorted(trie.items()))


@functools.lru_cache(maxsize=256)
def _spec_trie(shape: str, spec: bytes) -> dict[str, Any]:
    """A built-in object's spec trie by the spec's JSON: a controller's pods share one template,
    so their creates share one walk (most of a create's recording is the spec's;
    tests/bench/bench_managed_fields.py measures it, docs/decisions/0007 holds the figure). The trie
    is shared: read-only, as every reader of managedFields treats it."""
    return _trie_of(orjson.loads(spec), shape)


_REST_MEMO_MAX_BYTES = 2048


def _rest_trie(shape: str, rest: dict[str, Any]) -> dict[str, Any]:
    """The trie of a built-in object's fields beside its spec (metadata's labels, annotations,
    owners): a controller's pods share these too, so their creates share one walk (the walk
    of two labels cost about as much as the whole rest of the recording). A new top-level
    dict each call (the caller adds the spec's trie); the tries under it are shared and
    read-only, as the spec's."""
    try:  # (a YAML timestamp is not JSON: walked, never a key)
        key = orjson.dumps(rest, option=orjson.OPT_PASSTHROUGH_DATETIME)
    except TypeError:
        return _trie_of(rest, shape)
    if len(key) > _REST_MEMO_MAX_BYTES:
        return _trie_of(rest, shape)
    return dict(_rest_trie_of_json(shape, key))


@functools.lru_cache(maxsize=256)
def _rest_trie_of_json(shape: str, rest: bytes) -> dict[str, Any]:
    return _trie_of(orjson.loads(rest), shape)


def _trie_of(value: Mapping[str, Any], shape: Shape) -> dict[str, Any]:
    """The FieldsV1 trie of a struct or map, its keys in sorted order as it is stored."""
    trie: dict[str, Any] = {}
    for key in sorted(value):
        child = value[key]
        spec, child_shape, item_shape = field_shape(shape, key)
        if isinstance(child, dict) and child:
            if sub := _trie_of(child, child_shape):  # (a map of empty keyed lists owns nothing)
                trie[f"f:{key}"] = sub
        elif isinstance(child, list) and (keys := list_keys(spec)):
            items: dict[str, Any] = {}
            for item in child:
                if not isinstance(item, dict):
                    continue
                element = item_key(item, keys)
                if element in items:  # two elements with one key: their union
                    items[element] = _sorted_trie(_merged(items[element], _trie_of(item, item_shape)))
                else:
                    items[element] = {".": {}, **_trie_of(item, item_shape)}
            if items:
                trie[f"f:{key}"] = dict(sorted(items.items()))
        elif isinstance(child, list) and is_set(spec):
            if child:
                values = sorted("v:" + json.dumps(v, separators=(",", ":")) for v in child)
                trie[f"f:{key}"] = {element: {} for element in values}
        else:
            trie[f"f:{key}"] = {}
    return trie


def _merged(into: dict[str, Any], other: Mapping[str, Any]) -> dict[str, Any]:
    for key, child in other.items():
        if key in into:
            _merged(into[key], child)
        else:
            into[key] = child
    return into


def _sorted_trie(trie: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _sorted_trie(trie[key]) for key in sorted(trie)}


def changed_paths(
    info: ResourceInfo, old: Mapping[str, Any], new: Mapping[str, Any], *, subresource: str = ""
) -> tuple[set[Path], set[Path]]:
    """The owned paths of ``new`` that are new or hold another value than in ``old``, and the
    owned paths of ``old`` that ``new`` lacks: what comparing both objects' :func:`object_paths`
    path by path gives, found by walking both objects together and skipping every subtree that
    is equal in both (one C-level ``==``), and keyed lists element by element. A kubelet's
    status write leaves the spec as it was, so the walk beats building the path sets of both
    objects (tests/bench/bench_managed_fields.py compares them; docs/decisions/0007)."""
    changed: set[Path] = set()
    gone: set[Path] = set()
    heads = ("status",) if subresource == "status" else tuple(k for k in (*new, *old) if k != "status")
    _diff(old, new, root_shape(info), (), dict.fromkeys(heads), changed, gone)
    return ({p for p in changed if _kept(p, subresource)}, {p for p in gone if _kept(p, subresource)})


def _diff(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    shape: Shape,
    prefix: Path,
    keys: Iterable[str],
    changed: set[Path],
    gone: set[Path],
) -> None:
    for key in keys:
        before = old.get(key, _MISSING)
        after = new.get(key, _MISSING)
        if before is not _MISSING and after is not _MISSING and before == after:
            continue
        if isinstance(before, dict) and before and isinstance(after, dict) and after:
            child_shape = field_shape(shape, key)[1]
            keys = dict.fromkeys((*after, *before))
            _diff(before, after, child_shape, (*prefix, f"f:{key}"), keys, changed, gone)
            continue
        if isinstance(before, list) and isinstance(after, list):
            spec, _, item_shape = field_shape(shape, key)
            if _diff_keyed(before, after, list_keys(spec), item_shape, (*prefix, f"f:{key}"), changed, gone):
                continue
        old_part = {} if before is _MISSING else {key: before}
        new_part = {} if after is _MISSING else {key: after}
        old_paths = paths_of(old_part, shape, prefix)
        new_paths = paths_of(new_part, shape, prefix)
        gone |= old_paths - new_paths
        depth = len(prefix)
        for path in new_paths:
            if path not in old_paths or value_at(old_part, path[depth:]) != value_at(new_part, path[depth:]):
                changed.add(path)


def _diff_keyed(
    old: list[Any],
    new: list[Any],
    keys: tuple[str, ...],
    item_shape: Shape,
    path: Path,
    changed: set[Path],
    gone: set[Path],
) -> bool:
    """:func:`_diff` of two keyed lists element by element; False (nothing recorded) where the
    lists are not plainly keyed (not keyed, an element that is not an object or lacks a key
    field, two elements with one key): the caller compares their path sets instead."""
    old_items = _by_key(old, keys)
    new_items = _by_key(new, keys)
    if old_items is None or new_items is None:
        return False
    for element, item in new_items.items():
        item_path = (*path, element)
        previous = old_items.get(element)
        if previous is None:
            changed.add((*item_path, "."))
            changed.update(paths_of(item, item_shape, item_path))
        elif previous != item:
            changed.add((*item_path, "."))
            _diff(previous, item, item_shape, item_path, dict.fromkeys((*item, *previous)), changed, gone)
    for element, item in old_items.items():
        if element not in new_items:
            item_path = (*path, element)
            gone.add((*item_path, "."))
            gone.update(paths_of(item, item_shape, item_path))
    return True


def _by_key(items: list[Any], keys: tuple[str, ...]) -> dict[str, dict[str, Any]] | None:
    if not keys:
        return None
    found: dict[str, dict[str, Any]] = {}
    for item in items:
        if not isinstance(item, dict) or any(k not in item for k in keys):
            return None
        found[item_key(item, keys)] = item
    return found if len(found) == len(items) else None


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
    if not old and not entries_of(new):  # a create: the manager owns all there is
        fields = fields_v1_of(info, new, subresource=subresource)
        if fields:
            head = _head(info, manager, operation, subresource, now)
            entry = {**head, "fieldsType": "FieldsV1", "fieldsV1": fields}
            new.setdefault("metadata", {})["managedFields"] = [entry]
        return
    old = old or {}
    changed, gone = changed_paths(info, old, new, subresource=subresource)
    kept: list[dict[str, Any]] = []
    mine: set[Path] | None = None
    touched = changed | gone
    for entry in entries_of(old if old else new):
        trie = entry.get("fieldsV1") or {}
        if entry_matches(entry, manager, operation, subresource):
            mine = (from_fields_v1(trie) - gone) | changed
            kept.append(_entry({**entry_head(entry), "time": now}, mine))
        elif any(_owns(trie, path) for path in touched):
            kept.append(_entry(entry_head(entry), from_fields_v1(trie) - touched))
        else:  # none of its fields changed hands (most entries of a status write): as stored
            kept.append(entry)
    if mine is None and changed:
        kept.append(_entry(_head(info, manager, operation, subresource, now), changed))
    metadata = new.setdefault("metadata", {})
    if kept := [entry for entry in kept if entry.get("fieldsV1")]:
        metadata["managedFields"] = kept
    else:
        metadata.pop("managedFields", None)


def _owns(trie: Mapping[str, Any], path: Path) -> bool:
    """Whether the FieldsV1 ``trie`` holds ``path`` (a leaf of it)."""
    node: Any = trie
    for element in path:
        node = node.get(element)
        if node is None:
            return False
    return not node


def _entry(head: dict[str, Any], paths: set[Path]) -> dict[str, Any]:
    return {**head, "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(paths)}


def _head(info: ResourceInfo, manager: str, operation: str, subresource: str, now: str) -> dict[str, Any]:
    head = {"manager": manager, "operation": operation, "apiVersion": api_version(info), "time": now}
    if subresource:
        head["subresource"] = subresource
    return head


def entry_head(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in ("fieldsType", "fieldsV1")}
