"""Structural schemas: pruning, defaulting and validation causes worded as kube-apiserver's."""

from __future__ import annotations

from typing import Any

from kprov.cluster.api._field_errors import Errors
from kprov.cluster.api.crd_schema import compile_schema, default, lacks_defaults, prune, validate

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
