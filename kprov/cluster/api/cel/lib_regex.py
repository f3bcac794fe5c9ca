"""Kubernetes' regex library (upstream library/regex.go) as functions on the CEL runtime:
``<string>.find(<regex>)`` is the first match or ``""``; ``<string>.findAll(<regex>)`` every
match, ``findAll(<regex>, <limit>)`` at most ``limit`` of them (a negative limit: all).
Patterns are RE2 in upstream; Python's ``re`` reads the RE2 subset Kubernetes rules use, with
RE2's ASCII meaning of ``\\d``, ``\\w``, ``\\s`` and ``\\b`` (``re.ASCII``)."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from kprov.cluster.api.cel.library import Library


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.ASCII)
    except re.error as exc:
        raise ValueError(f"Illegal regex: error parsing regexp: {exc}") from None


def _find(text: str, pattern: str) -> str:
    match = _compiled(pattern).search(text)
    return match.group(0) if match else ""


def _find_all(text: str, pattern: str, limit: int = -1) -> list[str]:
    if limit == 0:
        return []
    found = [m.group(0) for m in _compiled(pattern).finditer(text)]
    return found if limit < 0 else found[:limit]


def _declare(cel: Any, types: Mapping[str, Any], classes: Mapping[str, Any]) -> list[Any]:
    string, strings = cel.Type.STRING, cel.Type.List(cel.Type.STRING)
    return [
        cel.FunctionDecl(
            "find", [cel.Overload("string_find_string", string, [string, string], is_member=True, impl=_find)]
        ),
        cel.FunctionDecl(
            "findAll",
            [
                cel.Overload(
                    "string_find_all_string", strings, [string, string], is_member=True, impl=_find_all
                ),
                cel.Overload(
                    "string_find_all_string_int",
                    strings,
                    [string, string, cel.Type.INT],
                    is_member=True,
                    impl=_find_all,
                ),
            ],
        ),
    ]


LIBRARY = Library("regex", _declare)
