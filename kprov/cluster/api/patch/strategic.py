"""Strategic merge patch (the Kubernetes patch kubectl sends by default).

Design: like JSON merge patch, but lists follow the field's patch strategy from the schema:
lists of structs with `patchStrategy: merge` merge element-wise by `patchMergeKey`
(`containers` by `name`, container `ports` by `containerPort`, ...), primitive lists with
`merge` behave as ordered sets (`finalizers`), all other lists are replaced. Directives:
`$patch: replace|merge|delete` (on maps and list elements), `$retainKeys`,
`$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>`. Inputs are never mutated.
"""

from __future__ import annotations

import copy
from typing import Any

from kprov.cluster.api.errors import PatchError
from kprov.cluster.api.schema.known_fields import FieldSpec, element_type, fields_of

__all__ = ["apply_strategic_merge_patch", "strip_directives"]

_PATCH = "$patch"
_RETAIN = "$retainKeys"
_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"


def apply_strategic_merge_patch(
    original: dict[str, Any], patch: dict[str, Any], type_name: str
) -> dict[str, Any]:
    if not isinstance(patch, dict):
        raise PatchError("strategic merge patch body must be a JSON object")
    merged = _merge_map(copy.deepcopy(original) if isinstance(original, dict) else {}, patch, type_name)
    return merged if merged is not None else {}


def strip_directives(value: Any) -> Any:
    """A patch value with every `$` directive removed (for values that land where nothing was)."""
    if isinstance(value, dict):
        if value.get(_PATCH) == "delete":
            return None
        return {k: strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [
            strip_directives(v)
            for v in value
            if not (isinstance(v, dict) and (v.get(_PATCH) == "delete" or set(v) == {_PATCH}))
        ]
    return value


def _merge_map(original: dict[str, Any], patch: dict[str, Any], type_name: str) -> dict[str, Any] | None:
    directive = patch.get(_PATCH)
    if directive == "delete":
        return None
    if directive == "replace":
        return strip_directives({k: v for k, v in patch.items() if k != _PATCH})
    if directive not in (None, "merge"):
        raise PatchError(f"Unknown patch type: {directive}. Allowed: replace, merge, delete")
    fields = fields_of(type_name) if type_name else {}
    retain = patch.get(_RETAIN)
    if retain is not None:
        if not isinstance(retain, list):
            raise PatchError(f"$retainKeys must be a list, got {retain!r}")
        keep = set(retain)
        for key in [k for k in original if k not in keep]:
            del original[key]
    for key, value in patch.items():
        if key.startswith(_DELETE_PRIMITIVE):
            name = key[len(_DELETE_PRIMITIVE) :]
            if isinstance(original.get(name), list) and isinstance(value, list):
                original[name] = [item for item in original[name] if item not in value]
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        spec = fields.get(key)
        if value is None:
            original.pop(key, None)
            continue
        current = original.get(key)
        merged: Any
        if isinstance(value, dict) and isinstance(current, dict):
            merged = _merge_map(current, value, _value_type(spec))
        elif isinstance(value, list) and isinstance(current, list):
            merged = _merge_list(current, value, spec)
        elif isinstance(value, dict):
            merged = _merge_map({}, value, _value_type(spec))
        elif isinstance(value, list):
            merged = _merge_list([], value, spec)
        else:
            merged = value
        if merged is None:
            original.pop(key, None)
        else:
            original[key] = merged
    for key, order in patch.items():
        if key.startswith(_ORDER):
            name = key[len(_ORDER) :]
            if isinstance(original.get(name), list) and isinstance(order, list):
                original[name] = _apply_order(original[name], order, fields.get(name))
    return original


def _value_type(spec: FieldSpec | None) -> str:
    """The struct type a map value is patched with; maps of scalars and unknowns have none."""
    if spec is None:
        return ""
    base = spec.base
    if base.startswith("map[string]"):
        return ""
    return base


def _merge_list(original: list[Any], patch: list[Any], spec: FieldSpec | None) -> list[Any]:
    strategy = spec.patch_strategy.split(",") if spec else []
    if "merge" not in strategy:
        return strip_directives(copy.deepcopy(patch))
    if any(isinstance(item, dict) and item.get(_PATCH) == "replace" for item in patch):
        return strip_directives([item for item in patch if not (isinstance(item, dict) and _PATCH in item)])
    merge_key = spec.merge_key if spec else ""
    item_type = element_type(spec.type) if spec else ""
    if not merge_key:
        result = list(original)
        for item in patch:
            if item not in result:
                result.append(item)
        return _patch_order(result, patch, original, spec)
    result = list(original)
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(
                f"strategic merge patch: element {item!r} of {spec.name if spec else ''} "
                f"must be an object with {merge_key!r}"
            )
        if merge_key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {merge_key}")
        key_value = item[merge_key]
        index = next(
            (i for i, old in enumerate(result) if isinstance(old, dict) and old.get(merge_key) == key_value),
            None,
        )
        if item.get(_PATCH) == "delete":
            result = [
                old for old in result if not (isinstance(old, dict) and old.get(merge_key) == key_value)
            ]
            continue
        if index is None:
            merged = _merge_map({}, item, item_type)
            if merged is not None:
                result.append(merged)
        else:
            merged = _merge_map(result[index], item, item_type)
            if merged is None:
                result.pop(index)
            else:
                result[index] = merged
    deleted = {
        _identity(item, spec) for item in patch if isinstance(item, dict) and item.get(_PATCH) == "delete"
    }
    survivors = [item for item in original if _identity(item, spec) not in deleted]
    kept = [item for item in patch if not (isinstance(item, dict) and _PATCH in item)]
    return _patch_order(result, kept, survivors, spec)


def _patch_order(
    merged: list[Any], patch: list[Any], original: list[Any], spec: FieldSpec | None
) -> list[Any]:
    """Order a merged list as the API server does.

    The items the patch names keep the patch's order, the others the live order, and the two
    runs are interleaved by their places in the live list: at each step a live-only item goes
    first only when both it and the next patch item were in the live list and it came first
    there, so items new to the list come before the live-only ones that follow them.
    """
    named = {_identity(item, spec): index for index, item in enumerate(patch)}
    live_place = {_identity(item, spec): index for index, item in enumerate(original)}
    from_patch = sorted((item for item in merged if _identity(item, spec) in named),
                        key=lambda item: named[_identity(item, spec)])
    live_only = [item for item in merged if _identity(item, spec) not in named]
    ordered: list[Any] = []
    i = j = 0
    while i < len(live_only) or j < len(from_patch):
        if j >= len(from_patch):
            ordered.append(live_only[i])
            i += 1
            continue
        if i >= len(live_only):
            ordered.append(from_patch[j])
            j += 1
            continue
        left = live_place.get(_identity(live_only[i], spec))
        right = live_place.get(_identity(from_patch[j], spec))
        if left is not None and right is not None and left < right:
            ordered.append(live_only[i])
            i += 1
        else:
            ordered.append(from_patch[j])
            j += 1
    return ordered


def _identity(item: Any, spec: FieldSpec | None) -> Any:
    if spec is not None and spec.merge_key and isinstance(item, dict):
        return repr(item.get(spec.merge_key))
    return repr(item)


def _apply_order(items: list[Any], order: list[Any], spec: FieldSpec | None) -> list[Any]:
    """Items named in `order` come in that order; others keep their place after their predecessor."""
    rank = {_identity(entry, spec): index for index, entry in enumerate(order)}
    ordered = sorted(
        (item for item in items if _identity(item, spec) in rank),
        key=lambda item: rank[_identity(item, spec)],
    )
    result: list[Any] = []
    # server-only items stay directly after the ordered item that preceded them originally
    pending: list[Any] = []
    anchors: dict[Any, list[Any]] = {}
    last_anchor: Any = None
    for item in items:
        identity = _identity(item, spec)
        if identity in rank:
            last_anchor = identity
        elif last_anchor is None:
            pending.append(item)
        else:
            anchors.setdefault(last_anchor, []).append(item)
    result.extend(pending)
    for item in ordered:
        result.append(item)
        result.extend(anchors.get(_identity(item, spec), []))
    return result
