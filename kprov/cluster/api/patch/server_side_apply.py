"""Server-side apply: merge an applied configuration with field ownership and conflicts.

Design (see managed_fields.py for the path model):
1. The applied config's owned paths are computed from the schema.
2. Conflicts: a leaf another manager owns, whose live value differs from the applied one,
   is a conflict -> `ConflictError` (409, one `FieldManagerConflict` cause per field), unless
   `force`, which takes the field away from the other manager.
3. Merge: maps merge, keyed lists merge element-wise by key, set lists union, atomic lists
   and scalars replace.
4. Removal: paths this manager applied last time, no longer applies, and nobody else owns
   are removed from the object (leaves, keyed list elements, set values).
5. The manager's `Apply` entry becomes exactly the applied paths.
Which lists are keyed, sets or atomic: :mod:`.shapes` (custom resources by their schema's
``x-kubernetes-list-type``). Approximations: a built-in kind's keyed list elements are keyed
by the patch merge key; defaulted values
are not owned; no type conversion between versions (one version per kind here).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from kprov.cluster.api.errors import Cause, ConflictError, PatchError
from kprov.cluster.api.patch.managed_fields import (
    Path,
    entries_of,
    entry_head,
    entry_matches,
    from_fields_v1,
    is_missing,
    is_set,
    item_key,
    list_keys,
    object_paths,
    value_at,
    write_entries,
)
from kprov.cluster.api.patch.shapes import Shape, field_shape, root_shape
from kprov.cluster.api.resources import ResourceInfo, api_version
from kprov.cluster.api.schema.known_fields import FieldSpec, fields_of

__all__ = ["server_side_apply"]


def server_side_apply(
    info: ResourceInfo,
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    manager: str,
    *,
    force: bool,
    now: str,
    subresource: str = "",
) -> dict[str, Any]:
    if not manager:
        raise PatchError(
            "PATCH requests with apply content type require fieldManager query parameter", code=400
        )
    if not isinstance(applied, dict):
        raise PatchError("apply patch body must be an object")
    expected = api_version(info)
    if applied.get("apiVersion") not in (None, expected) or applied.get("kind") not in (None, info.kind):
        raise PatchError(
            f"apply patch apiVersion/kind must be {expected}/{info.kind}, got "
            f"{applied.get('apiVersion')}/{applied.get('kind')}"
        )
    live = copy.deepcopy(live) if live else {}
    applied = {k: v for k, v in applied.items() if k != "status" or subresource == "status"}
    if isinstance(applied.get("metadata"), dict):
        applied["metadata"] = {k: v for k, v in applied["metadata"].items() if k != "managedFields"}
    if info.custom is None:  # (+default markers are built-in kinds' only)
        applied = _with_key_defaults(applied, root_shape(info))
    applied_paths = object_paths(info, applied, subresource=subresource)
    leaves = {p for p in applied_paths if p[-1] != "."}
    owners: list[tuple[dict[str, Any], set[Path]]] = [
        (entry, from_fields_v1(entry.get("fieldsV1") or {})) for entry in entries_of(live)
    ]
    previous: set[Path] = set()
    others: list[tuple[dict[str, Any], set[Path]]] = []
    for entry, paths in owners:
        if entry_matches(entry, manager, "Apply", subresource):
            previous = paths
        else:
            others.append((entry, paths))
    conflicts = _conflicts(live, applied, leaves, others)
    if conflicts and not force:
        raise _conflict_error(conflicts)
    taken = {path for _, path, _ in conflicts}
    others = [(entry, paths - taken) for entry, paths in others]
    result = _merge(live, applied, root_shape(info))
    still_owned = set().union(*(paths for _, paths in others)) if others else set()
    # A field owned before as a whole (``data: {}``) that now holds owned fields
    # (``data: {a: "3"}``) stays: only what no kept path lies under is removed.
    kept_parents = {path[:end] for path in applied_paths | still_owned for end in range(1, len(path))}
    dropped = previous - applied_paths - still_owned - kept_parents
    for path in sorted(dropped, key=lambda p: (p[-1] != ".", -len(p))):
        _remove(result, path)
    result.setdefault("apiVersion", expected)
    result.setdefault("kind", info.kind)
    head = {"manager": manager, "operation": "Apply", "apiVersion": expected, "time": now}
    if subresource:
        head["subresource"] = subresource
    entries = [(entry_head(entry), paths) for entry, paths in others]
    write_entries(result, [*entries, (head, applied_paths)])
    return result


def _conflicts(
    live: dict[str, Any],
    applied: dict[str, Any],
    leaves: set[Path],
    others: list[tuple[dict[str, Any], set[Path]]],
) -> list[tuple[dict[str, Any], Path, Any]]:
    found = []
    for entry, paths in others:
        for path in sorted(leaves & paths):
            current = value_at(live, path)
            if not is_missing(current) and current != value_at(applied, path):
                found.append((entry, path, current))
    return found


def _dotted(path: Path) -> str:
    out = ""
    for element in path:
        if element.startswith("f:"):
            out += "." + element[2:]
        elif element.startswith("k:"):
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(element[2:]).items()) + "]"
        elif element.startswith("v:"):
            out += "[" + element[2:] + "]"
    return out


def _conflict_error(conflicts: list[tuple[dict[str, Any], Path, Any]]) -> ConflictError:
    causes = []
    lines = []
    for entry, path, _ in conflicts:
        who = f'conflict with "{entry.get("manager")}"'
        if entry.get("operation") == "Update":
            who += f" using {entry.get('apiVersion')}"
        causes.append(Cause(_dotted(path), "FieldManagerConflict", who))
        lines.append(f"- {who}: {_dotted(path)}")
    noun = "conflict" if len(conflicts) == 1 else "conflicts"
    if len(conflicts) == 1:
        message = f"Apply failed with 1 conflict: {causes[0].message}: {causes[0].field}"
    else:
        message = f"Apply failed with {len(conflicts)} {noun}: " + "\n".join(lines)
    return ConflictError(message, causes)


def _merge(live: Any, applied: Any, shape: Shape) -> Any:
    if not isinstance(live, dict) or not isinstance(applied, dict):
        return copy.deepcopy(applied)
    result = dict(live)
    for key, value in applied.items():
        spec, child_shape, item_shape = field_shape(shape, key)
        current = result.get(key)
        if isinstance(value, dict) and isinstance(current, dict) and value:
            result[key] = _merge(current, value, child_shape)
        elif isinstance(value, list) and isinstance(current, list):
            result[key] = _merge_list(current, value, spec, item_shape)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _with_key_defaults(value: Any, shape: Shape) -> Any:
    """``value`` with the missing key fields of keyed-list elements set to their defaults
    (+default: a Service port without ``protocol`` is the (port, TCP) element), as
    structured-merge-diff reads an applied configuration; a copy where anything is filled."""
    if not isinstance(value, dict):
        return value
    out = dict(value)
    for key, child in value.items():
        spec, child_shape, item_shape = field_shape(shape, key)
        if isinstance(child, dict):
            out[key] = _with_key_defaults(child, child_shape)
        elif isinstance(child, list):
            defaults = _key_defaults(item_shape, list_keys(spec)) if isinstance(item_shape, str) else {}
            out[key] = [
                _with_key_defaults({**item, **{k: v for k, v in defaults.items() if k not in item}}
                                   if isinstance(item, dict) else item, item_shape)
                for item in child
            ]
    return out


def _key_defaults(item_type: str, keys: tuple[str, ...]) -> dict[str, Any]:
    fields = fields_of(item_type)
    return {k: fields[k].default for k in keys if k in fields and fields[k].default is not None}


def _merge_list(live: list[Any], applied: list[Any], spec: FieldSpec | None, item_shape: Shape) -> list[Any]:
    keys = list_keys(spec)
    if keys:
        result = list(live)
        for item in applied:
            if not isinstance(item, dict):
                continue
            wanted = item_key(item, keys)
            index = next(
                (
                    i
                    for i, old in enumerate(result)
                    if isinstance(old, dict) and item_key(old, keys) == wanted
                ),
                None,
            )
            if index is None:
                result.append(copy.deepcopy(item))
            else:
                result[index] = _merge(result[index], item, item_shape)
        return result
    if is_set(spec):
        return list(live) + [copy.deepcopy(v) for v in applied if v not in live]
    return copy.deepcopy(applied)


def _remove(obj: Any, path: Path) -> None:
    """Remove what `path` names: a field, a keyed list element (path ends in '.'), or a set value."""
    if path[-1] == ".":
        path = path[:-1]
    parent = value_at(obj, path[:-1]) if len(path) > 1 else obj
    last = path[-1]
    if is_missing(parent):
        return
    if last.startswith("f:") and isinstance(parent, dict):
        parent.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(parent, list):
        wanted = json.loads(last[2:])
        parent[:] = [
            item
            for item in parent
            if not (isinstance(item, dict) and all(item.get(k) == v for k, v in wanted.items()))
        ]
    elif last.startswith("v:") and isinstance(parent, list):
        value = json.loads(last[2:])
        parent[:] = [item for item in parent if item != value]
