"""A folded subtree's answers kept by value (api/crd/fold_answers.py): a value met again is
not evaluated again, values the runtime tells apart (1, 1.0, true, "1") never share an
answer, the answers kept are bounded, and values marshal refuses are evaluated every time."""

from __future__ import annotations

import copy
import json
import sys
from typing import Any

import pytest

from kprov.cluster.api.cel.environment import Program
from kprov.cluster.api.crd import fold_answers, folded, structural
from kprov.cluster.api.crd.fold_answers import Answers, key_of
from kprov.cluster.api.crd.pruning import default
from kprov.cluster.api.crd.structural import compile_schema, validate
from kprov.cluster.api.validation.field_errors import Errors
from tests.unit.api.test_gateway_api_cel import _httproute_schema, httproute

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
            "x-kubernetes-validations": [{"rule": "!has(self.v) || type(self.v) == int"}],
        }
    },
}


@pytest.fixture
def evaluations(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The values the runtime was asked to evaluate a program on."""
    seen: list[Any] = []
    run = Program.holds_unchecked

    def counted(self: Program, values: Any) -> bool:
        seen.append(values["self"])
        return run(self, values)

    monkeypatch.setattr(Program, "holds_unchecked", counted)
    return seen


def test_an_equal_value_is_answered_without_evaluating_it_again(evaluations: list[Any]) -> None:
    schema = _httproute_schema()
    route = httproute()
    default(schema, route)
    assert folded.holds(schema, route) is True
    assert len(evaluations) == 1
    again = copy.deepcopy(route)  # another object, the same value (a re-apply, a label changed)
    again["metadata"]["labels"] = {"app": "web"}
    assert folded.holds(schema, again) is True
    assert len(evaluations) == 1
    bad = copy.deepcopy(route)
    bad["spec"]["rules"][0]["matches"][0]["path"]["value"] = "/a//b"
    assert folded.holds(schema, bad) is False  # one leaf apart: evaluated, refused
    assert len(evaluations) == 2
    errors = Errors()
    validate(schema, bad, errors)  # and the walk still words the cause
    assert any("must not contain '//'" in c.message for c in errors.causes), errors.causes


def test_an_update_leaving_spec_as_it_was_is_answered_from_its_create(evaluations: list[Any]) -> None:
    schema = _httproute_schema()
    body = json.dumps(httproute("/shop"))
    created = json.loads(body)  # each request decodes its own objects
    default(schema, created)
    validate(schema, created, Errors())
    assert len(evaluations) == 1
    stored, updated = json.loads(json.dumps(created)), copy.deepcopy(created)
    updated["metadata"]["finalizers"] = ["example.com/cleanup"]
    errors = Errors()
    validate(schema, updated, errors, old=stored)
    assert errors.causes == [] and len(evaluations) == 1


def test_equal_values_have_one_key_however_shared_or_interned() -> None:
    text = "".join(["we", "b"])  # not interned
    value = {"a": [text, text, {"b": text}], "n": [1, 1.5, True, None]}
    same = json.loads(json.dumps(value))  # decoded again: other objects, other sharing
    interned = {"a": [sys.intern("web")] * 2 + [{"b": "web"}], "n": [1, 1.5, True, None]}
    keys = {key_of(value), key_of(same), key_of(copy.deepcopy(value)), key_of(interned)}
    assert len(keys) == 1 and None not in keys
    assert key_of({"n": [1, 1.5, 1, None]}) not in keys  # True is not 1


@pytest.mark.parametrize("order", [(1, 1.0, True, "1", None), (None, "1", True, 1.0, 1)])
def test_values_the_runtime_tells_apart_never_share_an_answer(
    order: tuple[Any, ...], evaluations: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    node = compile_schema(SCHEMA)
    for _ in range(2):  # the second pass is answered from memory: the same answers
        for v in order:
            spec = {"v": v}
            answer = folded.holds(node, {"spec": spec})
            assert answer is (type(v) is int), v  # noqa: E721 - bool is not an int to CEL
            errors = Errors()
            with monkeypatch.context() as m:
                m.setattr(structural, "folded_holds", lambda node, value: False)  # the walk alone
                validate(node, {"spec": spec}, errors)
            assert bool(errors.causes) is not answer, (v, errors.causes)
    assert len(evaluations) == len(order)  # each value evaluated once, none answered for another


def test_the_answers_kept_are_bounded_by_count_and_bytes_least_recently_used_first() -> None:
    answers = Answers(limit=2)
    answers.put(b"a", True)
    answers.put(b"b", False)
    assert answers.get(b"a") is True  # "a" used: "b" is now the oldest
    answers.put(b"c", True)
    assert len(answers) == 2
    assert answers.get(b"b") is None
    assert answers.get(b"a") is True and answers.get(b"c") is True
    by_bytes = Answers(limit=10, budget=5)
    for key in (b"aa", b"bb", b"c"):
        by_bytes.put(key, True)
    by_bytes.put(b"aa", False)  # kept again: counted once
    assert len(by_bytes) == 3
    by_bytes.put(b"dd", True)  # 7 bytes: the oldest ("bb") dropped, back to 5
    assert len(by_bytes) == 3 and by_bytes.get(b"bb") is None
    assert by_bytes.get(b"c") is True and by_bytes.get(b"aa") is False and by_bytes.get(b"dd") is True


class _Text(str):
    pass


def test_values_marshal_refuses_or_too_large_are_evaluated_and_not_kept(evaluations: list[Any]) -> None:
    assert key_of({"v": [1, "x", None, 2.5, True]}) is not None
    assert key_of({"v": _Text("x")}) is None  # a subclass: not a plain decoded value
    assert key_of({"v": object()}) is None
    assert key_of({"v": "x" * (fold_answers.MAX_KEY_BYTES + 1)}) is None
    node = compile_schema(SCHEMA)
    large = {"v": 1, "pad": "x" * (fold_answers.MAX_KEY_BYTES + 1)}
    assert folded.holds(node, {"spec": large}) is True
    assert folded.holds(node, {"spec": large}) is True
    assert len(evaluations) == 2
    fold = folded.fold(node.properties["spec"])
    assert fold is not None and len(fold.answers) == 0
