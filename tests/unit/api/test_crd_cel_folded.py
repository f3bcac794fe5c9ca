"""A subtree's rules answered in one runtime call on create (api/crd/folded.py): the same
causes as the rule-by-rule walk on every value, valid or not, and the walk's cost refusals."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kprov.cluster.api.crd import folded, structural
from kprov.cluster.api.crd.pruning import default
from kprov.cluster.api.crd.structural import compile_schema, validate
from kprov.cluster.api.validation.field_errors import Errors
from tests.unit.api.test_gateway_api_cel import _httproute_schema, httproute

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "x-kubernetes-validations": [
                {"rule": "!has(self.min) || !has(self.max) || self.min <= self.max", "message": "min <= max"},
                {"rule": "self.min == oldSelf.min", "message": "min is immutable"},  # update only
            ],
            "properties": {
                "min": {"type": "integer"},
                "max": {"type": "integer"},
                "name": {
                    "type": "string",
                    "nullable": True,
                    "x-kubernetes-validations": [{"rule": "self.startsWith('a') // a comment"}],
                },
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "nullable": True,
                        "x-kubernetes-validations": [
                            {"rule": "self.n > 0", "messageExpression": "'n is ' + string(self.n)"}
                        ],
                        "properties": {
                            "n": {"type": "integer"},
                            "tags": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
                "labels": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "string",
                        "x-kubernetes-validations": [
                            {"rule": "self.matches('^[a-z]+$')", "reason": "FieldValueForbidden"}
                        ],
                    },
                },
                "largeArray": {
                    "type": "array",
                    "items": {"type": "integer"},
                    "x-kubernetes-validations": [{"rule": "self.all(x, self.all(y, y == x))"}],
                },
            },
        }
    },
}

VALUES = [
    {"spec": {}},
    {"spec": {"min": 1, "max": 2, "name": "abc", "items": [{"n": 1}, None, {"n": 2}], "labels": {"a": "xy"}}},
    {"spec": {"min": 3, "max": 2}},
    {"spec": {"name": "bad"}},
    {"spec": {"name": None}},
    {"spec": {"items": [{"n": 1}, {"n": 0}, {"n": -1}]}},
    {"spec": {"items": [{"tags": ["x"]}]}},  # n missing: the rule's error, named
    {"spec": {"labels": {"a": "ok", "b": "Not-OK"}}},
    {"spec": {"largeArray": [2, 2, 2]}},
    {"spec": {"largeArray": [20] * 725}},  # over cel-go's per-call limit: refused with the cost cause
]


def _causes(node: Any, value: Any) -> list[tuple[str, str, str]]:
    errors = Errors()
    validate(node, copy.deepcopy(value), errors)
    return [(c.field, c.reason, c.message) for c in errors.causes]


@pytest.mark.parametrize("value", VALUES)
def test_the_causes_are_the_walks(value: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    node = compile_schema(SCHEMA)
    with_fold = _causes(node, value)
    monkeypatch.setattr(structural, "folded_holds", lambda node, value: False)  # the walk alone
    assert with_fold == _causes(node, value)


def test_a_valid_value_is_answered_by_the_fold_and_an_invalid_one_by_the_walk() -> None:
    node = compile_schema(SCHEMA)
    spec = node.properties["spec"]
    assert folded.fold(spec) is not None
    assert folded.holds(spec, VALUES[1]["spec"]) is True
    assert folded.holds(spec, VALUES[3]["spec"]) is False
    (cause,) = _causes(node, VALUES[3])
    assert cause == ("spec.name", "FieldValueInvalid", "Invalid value: \"string\": failed rule: "
                     "self.startsWith('a') // a comment")


def test_a_value_over_the_bound_of_a_looping_rule_is_left_to_the_walk() -> None:
    node = compile_schema(SCHEMA)
    spec = node.properties["spec"]
    assert folded.holds(spec, VALUES[-1]["spec"]) is False  # would run: the estimate must judge
    ((field, _, message),) = _causes(node, VALUES[-1])
    assert field == "spec.largeArray" and "actual cost limit exceeded" in message


def test_optional_old_self_rules_are_not_folded() -> None:
    schema = copy.deepcopy(SCHEMA)
    schema["properties"]["spec"]["x-kubernetes-validations"].append(
        {"rule": "true", "optionalOldSelf": True}
    )
    assert folded.fold(compile_schema(schema).properties["spec"]) is None


def test_an_httproute_of_four_rules_is_answered_by_the_fold() -> None:
    schema = _httproute_schema()
    route = httproute()
    route["spec"]["rules"] = [copy.deepcopy(rule) for rule in route["spec"]["rules"] * 4]
    default(schema, route)
    spec = schema.properties["spec"]
    assert folded.holds(spec.properties["rules"], route["spec"]["rules"]) is True
    assert folded.holds(spec.properties["parentRefs"], route["spec"]["parentRefs"]) is True
    assert folded.holds(schema, route) is True  # the whole route: one runtime call
    assert _causes(schema, route) == []
    bad = copy.deepcopy(route)
    bad["spec"]["rules"][2]["matches"][0]["path"]["value"] = "api//x"
    assert folded.holds(spec.properties["rules"], bad["spec"]["rules"]) is False
    assert folded.holds(schema, bad) is False
    fields = {field for field, _, _ in _causes(schema, bad)}
    assert fields == {"spec.rules[2].matches[0].path"}


def test_a_root_whose_rules_are_all_under_spec_is_answered_on_spec_alone() -> None:
    properties = {"metadata": {"type": "object"}, **SCHEMA["properties"]}
    node = compile_schema({"type": "object", "properties": properties})
    valid = copy.deepcopy(VALUES[1])
    # a value the runtime cannot convert (beyond uint64), where no rule reads: never converted
    valid["metadata"] = {"name": "x", "resourceVersion": 2**70}
    assert folded.holds(node, valid) is True
    assert folded.holds(node, {"metadata": {}}) is True  # no spec: the walk finds nothing either
    assert folded.holds(node, {"spec": None}) is True
    invalid = copy.deepcopy(VALUES[3])
    invalid["metadata"] = valid["metadata"]
    assert folded.holds(node, invalid) is False
    assert [field for field, _, _ in _causes(node, invalid)] == ["spec.name"]
    # a root with a rule of its own reads the whole value: answered there, in one call
    schema = {**SCHEMA, "x-kubernetes-validations": [{"rule": "has(self.spec)"}]}
    assert folded.holds(compile_schema(schema), VALUES[1]) is True
    assert folded.holds(compile_schema(schema), valid) is False  # converted, refused: to the walk


def test_an_update_is_folded_only_where_no_transition_rule_lies_below() -> None:
    node = compile_schema(SCHEMA)
    spec = node.properties["spec"]
    assert folded.has_transition_rules(node) and folded.has_transition_rules(spec)
    assert not folded.has_transition_rules(spec.properties["items"])
    old = copy.deepcopy(VALUES[1])
    bad = copy.deepcopy(old)
    bad["spec"]["min"] = 0  # the transition rule refuses it; the fold at the root must not answer
    bad["spec"]["items"][0]["n"] = 0
    errors = Errors()
    validate(node, bad, errors, old=old)
    assert {c.field for c in errors.causes} == {"spec", "spec.items[0]"}
    errors = Errors()
    validate(node, copy.deepcopy(old), errors, old=old)
    assert errors.causes == []


@pytest.mark.parametrize("value", VALUES)
def test_an_updates_causes_are_the_walks(value: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    node = compile_schema(SCHEMA)
    old = VALUES[1]

    def causes() -> list[tuple[str, str, str]]:
        errors = Errors()
        validate(node, copy.deepcopy(value), errors, old=copy.deepcopy(old))
        return [(c.field, c.reason, c.message) for c in errors.causes]

    with_fold = causes()
    monkeypatch.setattr(structural, "folded_holds", lambda node, value: False)  # the walk alone
    assert with_fold == causes()
