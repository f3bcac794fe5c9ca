"""Kubernetes' list library and cel-go's sets library, as functions on the CEL runtime.

Lists (upstream library/lists.go): ``isSorted``, ``sum``, ``min``, ``max``, ``indexOf``,
``lastIndexOf`` as members of any list; ``min``/``max`` of an empty list is an error.
Sets (cel-go ext.Sets, enabled since 1.29): ``sets.contains``, ``sets.equivalent``,
``sets.intersects`` over two lists, with CEL's equality (``1 == 1.0``).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from google.protobuf import duration_pb2, timestamp_pb2

from kprov.cluster.api.cel.library import Library


def _is_sorted(items: list[Any]) -> bool:
    return all(a <= b for a, b in zip(items, items[1:], strict=False))


def _returned(value: Any) -> Any:
    """A value the runtime takes back: durations and timestamps reach Python as timedelta
    and datetime, and go back as the protobuf well-known types the runtime reads as CEL's."""
    if isinstance(value, datetime.timedelta):
        duration = duration_pb2.Duration()
        duration.FromTimedelta(value)
        return duration
    if isinstance(value, datetime.datetime):
        timestamp = timestamp_pb2.Timestamp()
        timestamp.FromDatetime(value)
        return timestamp
    return value


def _sum(items: list[Any]) -> Any:
    """The elements' sum (numbers or durations); 0 for an empty list."""
    if not items:
        return 0
    total = items[0]
    for item in items[1:]:
        total = total + item
    return _returned(total)


def _min(items: list[Any]) -> Any:
    if not items:
        raise ValueError("min called on empty list")
    return _returned(min(items))


def _max(items: list[Any]) -> Any:
    if not items:
        raise ValueError("max called on empty list")
    return _returned(max(items))


def _index_of(items: list[Any], value: Any) -> int:
    for index, item in enumerate(items):
        if _equal(item, value):
            return index
    return -1


def _last_index_of(items: list[Any], value: Any) -> int:
    for index in range(len(items) - 1, -1, -1):
        if _equal(items[index], value):
            return index
    return -1


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return bool(a == b)


def _declare_lists(cel: Any, types: Mapping[str, Any], classes: Mapping[str, Any]) -> list[Any]:
    lst, dyn = cel.Type.List(cel.Type.DYN), cel.Type.DYN

    def member(name: str, result: Any, impl: Any, *args: Any) -> Any:
        return cel.FunctionDecl(
            name, [cel.Overload(f"list_{name}", result, [lst, *args], is_member=True, impl=impl)]
        )

    return [
        member("isSorted", cel.Type.BOOL, _is_sorted),
        member("sum", dyn, _sum),
        member("min", dyn, _min),
        member("max", dyn, _max),
        member("indexOf", cel.Type.INT, _index_of, dyn),
        member("lastIndexOf", cel.Type.INT, _last_index_of, dyn),
    ]


def _contains(items: list[Any], sub: list[Any]) -> bool:
    return all(_index_of(items, item) >= 0 for item in sub)


def _equivalent(a: list[Any], b: list[Any]) -> bool:
    return _contains(a, b) and _contains(b, a)


def _intersects(a: list[Any], b: list[Any]) -> bool:
    return any(_index_of(b, item) >= 0 for item in a)


def _declare_sets(cel: Any, types: Mapping[str, Any], classes: Mapping[str, Any]) -> list[Any]:
    lst = cel.Type.List(cel.Type.DYN)
    return [
        cel.FunctionDecl(f"sets.{name}", [cel.Overload(f"sets_{name}", cel.Type.BOOL, [lst, lst], impl=impl)])
        for name, impl in (("contains", _contains), ("equivalent", _equivalent), ("intersects", _intersects))
    ]


LIBRARY = Library("lists", _declare_lists)
SETS = Library("sets", _declare_sets)
