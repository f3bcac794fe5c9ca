"""Structural schemas: pruning, defaulting and validation causes worded as kube-apiserver's."""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.crd.pruning import default, lacks_defaults, prune
from kprov.cluster.api.crd.structural import compile_schema, validate
from kprov.cluster.api.validation.field_errors import Errors

SCHEMA = compile_schema(
    {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["mode"],
                "properties": {
                    "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
                    "count": {"type": "integer", "minimum": 0, "exclusiveMaximum": True, "maximum": 3},
                    "ratio": {"type": "number", "multipleOf": 0.5},
                    "when": {"type": "string", "format": "date-time"},
                    "ip": {"type": "string", "format": "ipv4"},
                    "items": {
                        "type": "array",
                        "maxItems": 2,
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "v": {"type": "integer", "default": 1},
                            },
                        },
                    },
                    "labels": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}},
                    "maybe": {"type": "string", "nullable": True},
                    "template": {"type": "object", "x-kubernetes-embedded-resource": True},
                    "any": {"x-kubernetes-preserve-unknown-fields": True},
                },
            }
        },
    }
)


def _causes(obj: dict[str, Any]) -> dict[str, str]:
    errors = Errors()
    validate(SCHEMA, obj, errors)
    return {c.field: c.message for c in errors.causes}


def test_prune_keeps_declared_preserved_and_root_fields():
    obj = {
        "apiVersion": "x/v1",
        "kind": "X",
        "metadata": {"name": "n"},
        "extra": 1,
        "spec": {
            "mode": "a",
            "junk": 2,
            "any": {"k": {"deep": 1}},
            "template": {"kind": "Pod", "metadata": {}, "x": 1},
        },
    }
    assert sorted(prune(SCHEMA, obj)) == ["extra", "spec.junk", "spec.template.x"]
    assert obj["spec"]["any"] == {"k": {"deep": 1}} and obj["spec"]["template"] == {
        "kind": "Pod",
        "metadata": {},
    }
    assert obj["metadata"] == {"name": "n"}


def test_defaults_fill_absent_fields_and_list_items():
    obj: dict[str, Any] = {"spec": {"items": [{"name": "x"}, {"name": "y", "v": 5}]}}
    default(SCHEMA, obj)
    assert obj["spec"]["mode"] == "a"
    assert obj["spec"]["items"] == [{"name": "x", "v": 1}, {"name": "y", "v": 5}]


def test_lacks_defaults_tells_whether_defaulting_would_change_anything():
    assert lacks_defaults(SCHEMA, {"spec": {"mode": "b"}}) is False
    assert lacks_defaults(SCHEMA, {"spec": {}}) is True
    assert lacks_defaults(SCHEMA, {"spec": {"mode": "a", "items": [{"name": "x"}]}}) is True
    assert lacks_defaults(SCHEMA, {"spec": {"mode": "a", "items": [{"name": "x", "v": 2}]}}) is False
    assert lacks_defaults(compile_schema({"type": "object"}), {}) is False
    obj: dict[str, Any] = {"spec": {"items": [{"name": "x"}]}}
    default(SCHEMA, obj)
    assert lacks_defaults(SCHEMA, obj) is False


def test_validation_messages():
    causes = _causes(
        {
            "spec": {
                "count": 3,
                "ratio": 0.3,
                "when": "yesterday",
                "ip": "1.2.3",
                "items": [{"name": "a"}, {"name": "a"}, {"name": "b"}],
                "labels": {"k": ""},
                "maybe": None,
                "template": {"metadata": {}},
            }
        }
    )
    assert causes["spec.mode"] == "Required value"
    assert causes["spec.count"] == "Invalid value: 3: spec.count in body should be less than 3"
    assert causes["spec.ratio"] == "Invalid value: 0.3: spec.ratio in body should be a multiple of 0.5"
    assert (
        causes["spec.when"]
        == 'Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday"'
    )
    assert "spec.ip" in causes
    assert causes["spec.items"] == "Too many: 3: must have at most 2 items"
    assert causes["spec.items[1]"].startswith("Duplicate value:")
    assert (
        causes["spec.labels.k"] == 'Invalid value: "": spec.labels.k in body should be at least 1 chars long'
    )
    assert causes["spec.template.kind"] == "Required value: must not be empty"
    assert "spec.maybe" not in causes


def test_type_errors_and_valid_object():
    causes = _causes({"spec": {"mode": 1, "count": "2"}})
    assert (
        causes["spec.mode"] == 'Invalid value: "integer": spec.mode in body must be of type string: "integer"'
    )
    assert (
        causes["spec.count"]
        == 'Invalid value: "string": spec.count in body must be of type integer: "string"'
    )
    assert (
        _causes({"spec": {"mode": "b", "count": 2, "when": "2026-01-01T00:00:00Z", "ip": "10.0.0.1"}}) == {}
    )


_SHAPES: list[dict[str, Any]] = [
    {"type": "string", "maxLength": 3, "minLength": 1, "pattern": "^[a-z]*$"},
    {"type": "string", "enum": ["a", "b"], "format": "ipv4"},
    {"type": "string", "nullable": True},
    {"type": "integer", "minimum": 0, "maximum": 3, "exclusiveMaximum": True},
    {"type": "integer", "format": "int32", "multipleOf": 2},
    {"type": "number", "minimum": 0.5, "exclusiveMinimum": True, "enum": [1, 2.5]},
    {"type": "boolean", "enum": [True]},
    {"type": "array", "maxItems": 2, "minItems": 1, "items": {"type": "integer", "maximum": 5}},
    {"type": "array", "uniqueItems": True, "items": {"type": "string"}},
    {"type": "object", "required": ["a"], "maxProperties": 2, "properties": {"a": {"type": "string"}}},
    {"type": "object", "additionalProperties": {"type": "integer"}, "minProperties": 1},
    {"type": "object", "x-kubernetes-embedded-resource": True, "x-kubernetes-preserve-unknown-fields": True},
    {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
    {"x-kubernetes-preserve-unknown-fields": True},
    {"type": "no-such-type"},
]
_VALUES: list[Any] = [
    None, True, False, 0, 1, 2, 3, 7, -1, 2**40, 0.5, 1.0, 2.5, "", "a", "ab", "abcd", "A", "1.2.3.4",
    [], [1], [1, 2], [1, 9], [1, 2, 3], ["x", "x"], {}, {"a": "x"}, {"a": 1}, {"b": 2},
    {"a": "x", "b": 1, "c": 2}, {"apiVersion": "v1", "kind": "K"},
]


def test_the_compiled_predicate_agrees_with_the_causes_walk():
    """validate's fast path (each node's ``ok``) says "valid" exactly when the walk finds no cause."""
    for shape in _SHAPES:
        node = compile_schema(shape)
        for value in _VALUES:
            errors = Errors()
            validate(node, value, errors, "f", root=False)
            assert node.ok(value) == (not errors.causes), (shape, value, errors.causes)
            nested = compile_schema({"type": "object", "properties": {"f": shape}})
            errors = Errors()
            validate(nested, {"f": value}, errors)
            assert nested.ok({"f": value}) == (not errors.causes), (shape, value)
