"""The spec memos of the body checks (Go types, unknown fields) answer as the plain walks do:
each body is checked three times, so the later checks go through the memo of the first."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from kprov.cluster.api.resources import REGISTRY, ResourceInfo
from kprov.cluster.api.schema import go_types, known_fields


def _pods() -> ResourceInfo:
    info = REGISTRY.get("", "v1", "pods")
    assert info is not None
    return info


def _pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "a", "labels": {"x": "y"}},
        "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}],
                                 "resources": {"requests": {"cpu": "1"}}}]},
    }


def _container(o: dict[str, Any]) -> dict[str, Any]:
    return o["spec"]["containers"][0]


CHANGES: dict[str, Callable[[dict[str, Any]], None]] = {
    "as is": lambda o: None,
    "unknown in spec": lambda o: o["spec"].update(bogus=1),
    "unknown in a container": lambda o: _container(o).update(bogus=1),
    "unknown in metadata": lambda o: o["metadata"].update(bogus=1),
    "unknown at the root": lambda o: o.update(bogus=1),
    "number for a string": lambda o: _container(o).update(name=5),
    "string for a number": lambda o: _container(o)["ports"][0].update(containerPort="x"),
    "null in a list of strings": lambda o: _container(o).update(args=["a", None]),
    "NaN for a string": lambda o: _container(o).update(image=float("nan")),
    "null field": lambda o: o["spec"].update(nodeName=None),
    "bool for a quantity": lambda o: _container(o)["resources"]["requests"].update(cpu=True),
    "number for metadata.name": lambda o: o["metadata"].update(name=3),
}


def _plain_go(obj: dict[str, Any]) -> tuple[str, str]:
    try:
        go_types._Walk().value("core.Pod", obj)
    except go_types.GoTypeError as exc:
        return "refused", str(exc)
    return "ok", json.dumps(obj, sort_keys=True)


def _memo_go(obj: dict[str, Any]) -> tuple[str, str]:
    try:
        go_types.check_go_types("core.Pod", obj)
    except go_types.GoTypeError as exc:
        return "refused", str(exc)
    return "ok", json.dumps(obj, sort_keys=True)


@pytest.mark.parametrize("change", list(CHANGES))
def test_go_type_check_through_the_memo_answers_as_the_walk(change: str) -> None:
    body = _pod()
    CHANGES[change](body)
    expected = _plain_go(copy.deepcopy(body))
    for _ in range(3):
        assert _memo_go(copy.deepcopy(body)) == expected


@pytest.mark.parametrize("change", list(CHANGES))
@pytest.mark.parametrize("drop", [False, True])
def test_unknown_fields_through_the_memo_answer_as_the_walk(change: str, drop: bool) -> None:
    body = _pod()
    CHANGES[change](body)
    plain = copy.deepcopy(body)
    found: list[str] = []
    known_fields._walk("core.Pod", plain, None, found, drop)
    for _ in range(3):
        seen = copy.deepcopy(body)
        info = _pods()
        paths = known_fields.drop_unknown(info, seen) if drop else known_fields.unknown_fields(info, seen)
        assert paths == found
        assert seen == plain


def test_a_timestamp_is_no_memo_key() -> None:
    import datetime

    assert known_fields.memo_key({"a": datetime.date(2020, 1, 1)}) is None
    assert known_fields.memo_key({"a": 1}) == b'{"a":1}'
