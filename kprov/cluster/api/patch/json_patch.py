"""RFC 6902 JSON Patch over plain JSON values.

Design: operations apply one by one to a deep copy, so a failing operation leaves the caller's
object untouched. Pointers follow RFC 6901 (`~1` = `/`, `~0` = `~`, `-` = append). A failing
`test` is a 422 (as the real server answers); malformed patches are 400.
"""

from __future__ import annotations

import copy
from typing import Any

from kprov.cluster.api.errors import PatchError

__all__ = ["apply_json_patch"]


def _parse_pointer(pointer: Any) -> list[str]:
    if not isinstance(pointer, str):
        raise PatchError(f"json patch path must be a string, got {pointer!r}")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f'json patch path "{pointer}" must start with "/"')
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def _index(container: list[Any], token: str, pointer: str, *, for_insert: bool) -> int:
    if token == "-" and for_insert:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise PatchError(f'json patch path "{pointer}": "{token}" is not a valid array index')
    index = int(token)
    limit = len(container) if for_insert else len(container) - 1
    if index > limit:
        raise PatchError(f'json patch path "{pointer}": index {index} is out of bounds')
    return index


def _parent(doc: Any, tokens: list[str], pointer: str) -> Any:
    target = doc
    for token in tokens[:-1]:
        if isinstance(target, dict):
            if token not in target:
                raise PatchError(f'json patch path "{pointer}": "{token}" does not exist')
            target = target[token]
        elif isinstance(target, list):
            target = target[_index(target, token, pointer, for_insert=False)]
        else:
            raise PatchError(f'json patch path "{pointer}": cannot descend into a {type(target).__name__}')
    return target


def _get(doc: Any, pointer: str) -> Any:
    tokens = _parse_pointer(pointer)
    if not tokens:
        return doc
    parent = _parent(doc, tokens, pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f'json patch path "{pointer}" does not exist')
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, pointer, for_insert=False)]
    raise PatchError(f'json patch path "{pointer}" does not exist')


def _add(doc: Any, pointer: str, value: Any) -> Any:
    tokens = _parse_pointer(pointer)
    if not tokens:
        return value
    parent = _parent(doc, tokens, pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, pointer, for_insert=True), value)
    else:
        raise PatchError(f'json patch path "{pointer}": parent is not an object or array')
    return doc


def _remove(doc: Any, pointer: str) -> tuple[Any, Any]:
    tokens = _parse_pointer(pointer)
    if not tokens:
        raise PatchError("json patch cannot remove the whole document")
    parent = _parent(doc, tokens, pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f'json patch remove: path "{pointer}" does not exist')
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, pointer, for_insert=False))
    raise PatchError(f'json patch remove: path "{pointer}" does not exist')


def _field(op: dict[str, Any], name: str) -> Any:
    if name not in op:
        raise PatchError(f'json patch {op.get("op")} operation is missing "{name}"')
    return op[name]


def apply_json_patch(doc: Any, operations: Any) -> Any:
    """Apply a list of RFC 6902 operations; returns the new document."""
    if not isinstance(operations, list):
        raise PatchError("json patch body must be a JSON array of operations")
    result = copy.deepcopy(doc)
    for op in operations:
        if not isinstance(op, dict):
            raise PatchError(f"json patch operation must be an object, got {op!r}")
        kind = op.get("op")
        path = _field(op, "path")
        if kind == "add":
            result = _add(result, path, copy.deepcopy(_field(op, "value")))
        elif kind == "remove":
            result, _ = _remove(result, path)
        elif kind == "replace":
            _get(result, path)
            if _parse_pointer(path):
                result, _ = _remove(result, path)
            result = _add(result, path, copy.deepcopy(_field(op, "value")))
        elif kind == "move":
            source = _field(op, "from")
            if path != source and path.startswith(source + "/"):
                raise PatchError(f'json patch move: "{path}" is inside "{source}"')
            result, value = _remove(result, source)
            result = _add(result, path, value)
        elif kind == "copy":
            result = _add(result, path, copy.deepcopy(_get(result, _field(op, "from"))))
        elif kind == "test":
            expected = _field(op, "value")
            actual = _get(result, path)
            if not _json_equal(actual, expected):
                raise PatchError(
                    f'json patch test operation failed: value at "{path}" is not {expected!r}',
                    code=422,
                    reason="Invalid",
                )
        else:
            raise PatchError(f"json patch: unknown operation {kind!r}")
    return result


def _json_equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    return left == right
