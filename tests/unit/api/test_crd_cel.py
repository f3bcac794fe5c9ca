"""x-kubernetes-validations: rules compiled once, self/oldSelf, messages and field paths."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.api.crd.cel import RuleError, compile_rules, evaluate_rules
from kprov.cluster.api.crd.definition import validate_crd
from kprov.cluster.api.crd.structural import compile_schema, validate
from kprov.cluster.api.validation.field_errors import Errors

SCHEMA = compile_schema(
    {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "x-kubernetes-validations": [
                    {"rule": "self.min <= self.max", "message": "min must not exceed max"},
                    {
                        "rule": "self.name == oldSelf.name",
                        "message": "name is immutable",
                        "reason": "FieldValueForbidden",
                    },
                    {
                        "rule": "self.max < 100",
                        "messageExpression": "'max is ' + string(self.max)",
                        "fieldPath": ".max",
                    },
                ],
                "properties": {
                    "min": {"type": "integer"},
                    "max": {"type": "integer"},
                    "name": {"type": "string"},
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {
                            "type": "object",
                            "x-kubernetes-validations": [{"rule": "self.port > 0"}],
                            "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                        },
                    },
                },
            }
        },
    }
)


def _causes(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[tuple[str, str, str]]:
    errors = Errors()
    if old is None:
        validate(SCHEMA, obj, errors)
    else:
        validate(SCHEMA, obj, errors, old=old)
    return [(c.field, c.reason, c.message) for c in errors.causes]


def test_rules_pass_and_fail_with_their_messages():
    assert _causes({"spec": {"min": 1, "max": 2, "name": "a"}}) == []
    assert _causes({"spec": {"min": 300, "max": 200, "name": "a", "ports": [{"name": "p", "port": 0}]}}) == [
        ("spec", "FieldValueInvalid", 'Invalid value: "object": min must not exceed max'),
        ("spec.max", "FieldValueInvalid", 'Invalid value: "object": max is 200'),
        ("spec.ports[0]", "FieldValueInvalid", 'Invalid value: "object": failed rule: self.port > 0'),
    ]


def test_transition_rules_only_on_update():
    obj = {"spec": {"min": 1, "max": 2, "name": "b"}}
    assert _causes(obj) == []
    assert _causes(obj, {"spec": {"min": 1, "max": 2, "name": "a"}}) == [
        ("spec", "FieldValueForbidden", "Forbidden: name is immutable")
    ]


def test_structural_errors_come_first():
    assert [c[0] for c in _causes({"spec": {"min": "x", "max": 2}})] == ["spec.min"]


def test_rules_that_do_not_compile_reject_the_crd():
    with pytest.raises(RuleError):
        compile_rules(({"rule": "self.a >"},))
    crd = {
        "metadata": {"name": "ws.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "ws", "kind": "W"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {"type": "object", "x-kubernetes-validations": [{"rule": "self.a >"}]}
                            },
                        }
                    },
                }
            ],
        },
    }
    fields = [c.field for c in validate_crd(crd)]
    assert fields == [
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule"
    ]


def test_rules_see_the_whole_value_and_a_field_named_like_a_macro() -> None:
    rules = compile_rules(({"rule": "size(self) == 2 && self.size > 1 && self.all(k, k != 'x')"},))
    assert evaluate_rules(rules, {"size": 2, "a": 1}, None, False, "spec") == []
    assert len(evaluate_rules(rules, {"size": 2, "x": 1}, None, False, "spec")) == 1


def test_rules_may_call_the_list_library_but_not_math_which_kubernetes_does_not_enable() -> None:
    rules = compile_rules(({"rule": "self.items.map(x, x.n).sum() == 3"},))
    assert evaluate_rules(rules, {"items": [{"n": 1}, {"n": 2}]}, None, False, "spec") == []
    (cause,) = evaluate_rules(rules, {"items": [{"n": 1}]}, None, False, "spec")
    assert cause.message.endswith("failed rule: self.items.map(x, x.n).sum() == 3")
    with pytest.raises(RuleError, match="undeclared reference to 'math.abs'|math"):
        compile_rules(({"rule": "math.abs(self.d) == 2"},))


@pytest.mark.parametrize(
    ("rule", "value"),
    [  # the examples: functions Kubernetes provides, refused before
        ("self.?team.orValue('none') == 'none'", {}),
        ("size(self.name) <= 3", {"name": "żółw"[:3]}),
        ("self.l.lastIndexOf(1) == 2", {"l": [1, 2, 1]}),
        ("url(self.u).getHost() == 'example.com'", {"u": "https://example.com/x"}),
        ("quantity(self.q).isLessThan(quantity('1Gi'))", {"q": "512Mi"}),
        ("ip(self.a).family() == 4 && cidr('10.0.0.0/8').containsIP(self.a)", {"a": "10.0.0.1"}),
        ("self.s.findAll('[a-z]').size() == 2 && self.s.find('[0-9]') == '1'", {"s": "a1b"}),
        ("matches(self.s, '^a')", {"s": "a1b"}),
    ],
)
def test_rules_call_kubernetes_libraries(rule: str, value: dict[str, object]) -> None:
    assert evaluate_rules(compile_rules(({"rule": rule},)), value, None, False, "spec") == []


def test_rules_may_call_is_sorted() -> None:
    rules = compile_rules(({"rule": "self.l.isSorted()"},))
    assert evaluate_rules(rules, {"l": [1, 2, 2, 5]}, None, False, "spec") == []
    assert len(evaluate_rules(rules, {"l": ["b", "a"]}, None, False, "spec")) == 1


def test_a_rule_over_the_cost_limit_is_refused_before_it_runs_and_stops_the_rules_after_it() -> None:
    rules = compile_rules((
        {"rule": "self.largeArray.all(x, self.largeArray.all(y, y == x))"},
        {"rule": "self.never == 1"},
    ))
    small = {"largeArray": [2, 2], "never": 1}
    assert evaluate_rules(rules, small, None, False, "spec") == []
    (cause,) = evaluate_rules(rules, {"largeArray": [20] * 725}, None, False, "spec")
    assert cause.message == (
        "Invalid value: \"object\": 'operation cancelled: actual cost limit exceeded': no further validation "
        "rules will be run due to call cost exceeds limit for rule: "
        "self.largeArray.all(x, self.largeArray.all(y, y == x))"
    )
    one_loop = compile_rules(({"rule": "self.items.all(i, i.n > 0 && i.name.startsWith('a'))"},))
    many = {"items": [{"n": 1, "name": "a"}] * 5000}
    assert evaluate_rules(one_loop, many, None, False, "spec") == []  # 5,000 steps: well under


def test_an_evaluation_error_names_the_rule() -> None:
    rules = compile_rules(({"rule": "self.a / self.b == 1", "message": "ratio"},))
    (cause,) = evaluate_rules(rules, {"a": 1, "b": 0}, None, False, "spec")
    assert cause.message.startswith('Invalid value: "object": ')
    assert cause.message.endswith(" evaluating rule: ratio")


@pytest.mark.parametrize(
    ("schema", "rule", "refused"),
    [
        ({"type": "string"}, "self > 5", "found no matching overload for '_>_' applied to '(string, int)'"),
        ({"type": "string"}, "self.all(c, c > 1)", "expression of type 'string' cannot be the range"),
        ({"type": "boolean"}, "self + 1 == 2", "no matching overload for '_+_' applied to '(bool, int)'"),
        ({"type": "string"}, "self.size() <= 63", None),
        ({"type": "integer"}, "self >= oldSelf && self < 1.5", None),  # cross-type: allowed upstream
        ({"type": "string", "format": "date-time"}, "self != ''", None),  # (a timestamp upstream: dyn here)
        ({"x-kubernetes-int-or-string": True}, "self > 5", None),
        # an object's fields are typed from its schema (kprov's checker): equality and
        # arithmetic between known scalars of different types have no overload
        (
            {"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "integer"}}},
            "self.name == 5",
            "ERROR: <input>:1:11: found no matching overload for '_==_' applied to '(string, int)'",
        ),
        (
            {"type": "object", "properties": {"n": {"type": "integer"}}},
            "self.n != 1.5",
            "found no matching overload for '_!=_' applied to '(int, double)'",
        ),
        ({"type": "object", "properties": {"n": {"type": "integer"}}}, "self.n == 2 && self.n < 2.5", None),
        (
            {"type": "array", "items": {"type": "object", "properties": {"port": {"type": "integer"}}}},
            "self.all(p, p.port == 'http')",
            "found no matching overload for '_==_' applied to '(int, string)'",
        ),
        ({"type": "array", "items": {"type": "string"}}, "self.all(s, s == 'a')", None),
        ({"type": "number"}, "self == 1.0 && self > 1", None),
        ({"type": "object", "x-kubernetes-preserve-unknown-fields": True}, "self.name == 5", None),  # dyn
        # a whole list or map of known scalars compared with a scalar: no '_==_' overload
        (
            {"type": "array", "items": {"type": "integer"}},
            "self == 5",
            "ERROR: <input>:1:6: found no matching overload for '_==_' applied to '(list(int), int)'",
        ),
        (
            {"type": "object", "additionalProperties": {"type": "string"}},
            "'a' != self",
            "found no matching overload for '_!=_' applied to '(string, map(string, string))'",
        ),
        (
            {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}},
            "self.tags == 'a'",
            "found no matching overload for '_==_' applied to '(list(string), string)'",
        ),
        ({"type": "array", "items": {"type": "integer"}}, "self == [1, 2] && self != []", None),
    ],
)
def test_a_scalar_self_is_typed_from_its_schema_at_creation(
    schema: dict[str, Any], rule: str, refused: str | None
) -> None:
    """As kube-apiserver types ``self`` from the schema: a rule that cannot apply to the
    field's type is refused when the CRD is written, not when an object is."""
    field = {**schema, "x-kubernetes-validations": [{"rule": rule}]}
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": {"type": "object", "properties": {"f": field}}},
                        }
                    },
                }
            ],
        },
    }
    causes = validate_crd(crd)
    if refused is None:
        assert causes == []
        return
    (cause,) = causes
    assert cause.field.endswith("properties[f].x-kubernetes-validations[0].rule")
    assert refused in cause.message
