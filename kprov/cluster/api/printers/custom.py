"""Table printers of custom resources: NAME plus the CRD version's additionalPrinterColumns.

Design: each column's ``jsonPath`` is read with the small evaluator below (the subset of
kubectl's JSONPath that printer columns use: ``.a.b``, ``['a.b']``, ``[2]``, ``[*]`` and
``[?(@.type=="Ready")]`` filters). It is hand-written because the JSONPath packages on PyPI
(jsonpath-ng, jsonpath-python) parse a different filter dialect (``[?type = "Ready"]``) and
would reject the expressions CRDs are written with; the subset is ~60 lines. Cells follow
the upstream table convertor: a missing value is null, ``date`` columns become ages,
integer/number/boolean columns keep their JSON type, string columns print the value.
Without printer columns the table is NAME and AGE, as upstream's default.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from kprov.cluster.api.printers.columns import AGE, NAME, Age, Column, Printer, created, name_of

__all__ = ["CUSTOMRESOURCEDEFINITION", "custom_printer", "evaluate_path"]

_TOKEN = re.compile(
    r"""\.\.?(?P<name>[A-Za-z0-9_\-/]+)"""
    r"""|\[\s*'(?P<quoted>[^']*)'\s*\]"""
    r"""|\[\s*"(?P<dquoted>[^"]*)"\s*\]"""
    r"""|\[\s*(?P<index>-?\d+)\s*\]"""
    r"""|\[\s*(?P<star>\*)\s*\]"""
    r"""|\[\?\(\s*@(?P<fpath>(?:\.[A-Za-z0-9_\-/]+)+)\s*(?:(?P<op>==|!=)\s*(?P<fval>"[^"]*"|'[^']*'|[^)\s]+))?\s*\)\]"""
)


def _child(values: list[Any], key: str) -> list[Any]:
    return [v[key] for v in values if isinstance(v, Mapping) and key in v]


def _walk_simple(value: Any, path: str) -> Any:
    for part in path.strip(".").split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _literal(text: str) -> Any:
    if text[:1] in "\"'":
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        return text


def evaluate_path(obj: Any, path: str) -> list[Any]:
    """Every value ``path`` selects in ``obj`` (a missing step selects nothing). Raises
    ValueError for a path outside the subset."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1].strip()
    if path.startswith("$"):
        path = path[1:]
    values = [obj]
    position = 0
    while position < len(path):
        match = _TOKEN.match(path, position)
        if match is None:
            raise ValueError(f"unrecognized JSONPath at {path[position:]!r}")
        position = match.end()
        if match["name"] is not None or match["quoted"] is not None or match["dquoted"] is not None:
            key = match["name"] or match["quoted"] or match["dquoted"] or ""
            values = _child(values, key)
        elif match["index"] is not None:
            index = int(match["index"])
            values = [v[index] for v in values if isinstance(v, list) and -len(v) <= index < len(v)]
        elif match["star"] is not None:
            values = [
                item
                for v in values
                for item in (v if isinstance(v, list) else v.values() if isinstance(v, Mapping) else ())
            ]
        else:
            items = [item for v in values if isinstance(v, list) for item in v]
            fpath, op = match["fpath"], match["op"]
            if op is None:
                values = [i for i in items if _walk_simple(i, fpath) is not None]
            else:
                want = _literal(match["fval"])
                values = [i for i in items if (_walk_simple(i, fpath) == want) == (op == "==")]
    return values


def _cell(obj: Mapping[str, Any], column: Mapping[str, Any], age: Age) -> Any:
    try:
        found = evaluate_path(obj, str(column.get("jsonPath", "")))
    except ValueError:
        return None
    if not found or found[0] is None:
        return None
    value = found[0]
    kind = column.get("type")
    if kind == "date":
        return age(value) if isinstance(value, str) else None
    if kind == "integer":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if kind == "number":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if len(found) > 1:
        value = found
    if isinstance(value, str):
        return value
    return (
        json.dumps(value, separators=(",", ":"))
        if isinstance(value, list | dict)
        else str(value).lower()
        if isinstance(value, bool)
        else str(value)
    )


def custom_printer(columns: tuple[Mapping[str, Any], ...]) -> Printer:
    """The printer of a custom resource version with these additionalPrinterColumns."""
    if not columns:
        return Printer((NAME, AGE), lambda obj, age: [name_of(obj), created(obj, age)])
    defined = tuple(
        Column(
            str(c.get("name", "")),
            str(c.get("type", "string")),
            str(c.get("description", "")),
            int(c.get("priority") or 0),
            str(c.get("format", "")),
        )
        for c in columns
    )

    def row(obj: dict[str, Any], age: Age) -> list[Any]:
        return [name_of(obj), *(_cell(obj, c, age) for c in columns)]

    return Printer((NAME, *defined), row)


CREATED_AT = Column(
    "Created At",
    "date",
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
)
# Resources without a printer of their own (CustomResourceDefinitions among them) print the
# creation time itself upstream, not an age.
CUSTOMRESOURCEDEFINITION = Printer(
    (NAME, CREATED_AT),
    lambda obj, age: [name_of(obj), str((obj.get("metadata") or {}).get("creationTimestamp", ""))],
)
