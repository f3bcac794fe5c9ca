"""The fold (api/crd/folded.py) against the rule-by-rule walk on real operators' CRDs, by
random objects: the fold's program is compiled over ``dyn`` while the walk compiles each rule
with ``self`` typed from its schema, and it binds values through its own wrappers; wherever
the two could part (heterogeneous equality, int against uint or double, absent and null
fields, big numbers, non-ASCII text), a create must get exactly the walk's causes.

Objects are drawn from each CRD version's schema (seeded, so a failure replays): every
subtree holding rules is filled, other optional fields now and then; values are picked from
pools of ordinary and edge values (empty, zero, negative, 2**31, 2**63, 2**64-1, 0.5,
non-ASCII, the enum's members, strings fitting a format or pattern), and each object is also
mutated (a field dropped, nulled or given another pool value), the mutation also validated
as an update of the drawn object (where no transition rule lies below, the fold answers
updates too). The test counts how many
objects the fold answered and how many the rules refused, and requires both on every CRD
family, so it cannot pass without comparing anything.
"""

from __future__ import annotations

import copy
import json
import random
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kprov.cluster.api.crd import folded, structural
from kprov.cluster.api.crd.pruning import default
from kprov.cluster.api.crd.structural import Node, compile_schema, validate
from kprov.cluster.api.validation.field_errors import Errors

DATA = Path(__file__).parents[2] / "data"
FAMILIES = {
    "gateway-api": sorted((DATA / "gateway-api-v1.6.1").glob("*.yaml")),
    "cert-manager": sorted((DATA / "operator-crds" / "cert-manager").glob("*.yaml")),
    "prometheus-operator": sorted((DATA / "operator-crds" / "prometheus-operator").glob("*.yaml")),
}
OBJECTS_PER_VERSION = 24
STRINGS = ["", "a", "abc", "web", "é-ü", "x" * 70, "/", "/api", "Exact", "PathPrefix", "1s", "0s", "10m",
           "https://example.com", "10.0.0.1", "2001:db8::1", "example.com", "*.example.com", "ns", "a.b"]
FORMATTED = {
    "duration": ["1s", "30s", "5m", "0s"],
    "date-time": ["2024-01-01T00:00:00Z"],
    "hostname": ["example.com", "a.b.c"],
    "uri": ["https://example.com/x"],
    "ipv4": ["10.0.0.1"],
    "ipv6": ["2001:db8::1"],
    "byte": ["YWJj"],
}
INTEGERS = [0, 1, -1, 2, 80, 443, 65535, 2**31, 2**63 - 1, 2**63, 2**64 - 1, -(2**63)]
NUMBERS = [*INTEGERS[:7], 0.5, -0.5, 1.0, 1e300]


class _Loader(yaml.SafeLoader):
    """YAML 1.1's ``=`` (the value tag) read as the string it is, as YAML 1.2 readers do."""


_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def _versions(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for document in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_Loader):  # noqa: S506 - safe
        if not document or document.get("kind") != "CustomResourceDefinition":
            continue
        for version in document["spec"]["versions"]:
            raw = (version.get("schema") or {}).get("openAPIV3Schema")
            if raw and "x-kubernetes-validations" in json.dumps(raw):
                yield f"{document['spec']['names']['kind']}/{version['name']}", raw


class _Draw:
    """Random values for a schema node, seeded."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def value(self, node: Node, depth: int = 0) -> Any:  # noqa: C901 - one branch a schema type
        rng = self.rng
        if node.enum and rng.random() < 0.9:
            return copy.deepcopy(rng.choice(node.enum))
        kind = node.type or ("string" if node.int_or_string else "object" if node.properties else "")
        if node.int_or_string:
            kind = rng.choice(["integer", "string"])
        if kind == "string":
            return self._string(node)
        if kind == "integer":
            return self._number(node, INTEGERS)
        if kind == "number":
            return self._number(node, NUMBERS)
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "array":
            return self._array(node, depth)
        if kind == "object" or node.properties or isinstance(node.additional, Node):
            return self._object(node, depth)
        return rng.choice(["x", 1, True, {}])

    def _string(self, node: Node) -> str:
        pool = FORMATTED.get(node.format, []) + STRINGS
        if node.pattern is not None:
            pool = [s for s in pool if node.pattern.search(s)] or pool
        if node.max_length is not None:
            pool = [s for s in pool if len(s) <= node.max_length] or pool
        if node.min_length:
            pool = [s for s in pool if len(s) >= node.min_length] or pool
        return self.rng.choice(pool)

    def _number(self, node: Node, pool: list[Any]) -> Any:
        fitting = [
            n for n in pool
            if (node.minimum is None or n >= node.minimum) and (node.maximum is None or n <= node.maximum)
        ]
        return self.rng.choice(fitting or pool)

    def _array(self, node: Node, depth: int) -> list[Any]:
        if node.items is None or depth > 12:
            return []
        low = node.min_items or 0
        high = min(node.max_items if node.max_items is not None else 3, low + 3)
        return [self.value(node.items, depth + 1) for _ in range(self.rng.randint(low, max(low, high)))]

    def _object(self, node: Node, depth: int) -> dict[str, Any]:
        rng, found = self.rng, {}
        for key, child in node.properties.items():
            wanted = key in node.required or (child.has_rules and rng.random() < 0.8) or rng.random() < 0.15
            if wanted and depth <= 12:
                found[key] = self.value(child, depth + 1)
        if isinstance(node.additional, Node) and depth <= 12:
            for index in range(rng.randint(0, 2)):
                found[f"k{index}"] = self.value(node.additional, depth + 1)
        return found

    def mutate(self, node: Node, value: Any) -> Any:
        """``value`` with one place below ``node`` dropped, nulled or redrawn."""
        rng, path = self.rng, [(node, value)]
        while True:
            here, held = path[-1]
            if isinstance(held, dict) and held and here.properties:
                key = rng.choice(list(held))
                child = here.properties.get(key)
                if child is None:
                    break
                if rng.random() < 0.35 or not isinstance(held[key], dict | list):
                    choice = rng.random()
                    if choice < 0.3 and key not in here.required:
                        del held[key]
                    elif choice < 0.45:
                        held[key] = None
                    else:
                        held[key] = self.value(child)
                    break
                path.append((child, held[key]))
            elif isinstance(held, list) and held and here.items is not None:
                index = rng.randrange(len(held))
                if rng.random() < 0.35 or not isinstance(held[index], dict | list):
                    held[index] = self.value(here.items) if rng.random() < 0.8 else copy.deepcopy(held[0])
                    break
                path.append((here.items, held[index]))
            else:
                break
        return value


def _causes(node: Node, value: Any, old: Any = None) -> list[tuple[str, str, str]]:
    errors = Errors()
    if old is None:
        validate(node, value, errors)
    else:
        validate(node, value, errors, old=old)
    return [(cause.field, cause.reason, cause.message) for cause in errors.causes]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_the_fold_gives_the_walks_causes_on_random_objects(
    family: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered, refused, compared = 0, 0, 0
    walk_only = lambda node, value: False  # noqa: E731 - the walk alone, rule by rule
    fold_holds = structural.folded_holds
    for path in FAMILIES[family]:
        for name, raw in _versions(path):
            node = compile_schema(raw)
            draw = _Draw(zlib.crc32(f"{family}/{name}".encode()))  # the same objects every run
            for index in range(OBJECTS_PER_VERSION):
                obj = draw.value(node)
                obj.update({"apiVersion": "x/v1", "kind": name.split("/")[0], "metadata": {"name": "n"}})
                before = None
                if index % 2:  # also an update: the drawn object changed in one place
                    before = copy.deepcopy(obj)
                    default(node, before)
                    obj = draw.mutate(node, obj)
                default(node, obj)
                with_fold = _causes(node, copy.deepcopy(obj))
                updated = _causes(node, copy.deepcopy(obj), copy.deepcopy(before)) if before else []
                monkeypatch.setattr(structural, "folded_holds", walk_only)
                walked = _causes(node, copy.deepcopy(obj))
                updated_walked = _causes(node, copy.deepcopy(obj), copy.deepcopy(before)) if before else []
                monkeypatch.setattr(structural, "folded_holds", fold_holds)
                assert with_fold == walked, (name, index, obj)
                assert updated == updated_walked, (name, index, before, obj)
                compared += 1
                answered += folded.holds(node, obj) is True
                refused += bool(walked) and all(_is_rule_cause(c) for c in walked)
    print(f"{family}: {compared} objects, the fold answered {answered}, the rules refused {refused}")
    assert answered > 0 and refused > 0, (compared, answered, refused)


def _is_rule_cause(cause: tuple[str, str, str]) -> bool:
    """A cause worded from a rule, not from the schema's keywords."""
    return "in body" not in cause[2] and not cause[2].startswith(("Required value", "Unsupported value",
                                                                  "Too long", "Too many", "Duplicate"))


EDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "x-kubernetes-validations": [
                {"rule": "!has(self.i) || self.i < 1.5"},  # int against double
                {"rule": "!has(self.i) || self.i != 1u"},  # int against uint
                {"rule": "!has(self.n) || self.n == 1 || self.n >= 2u"},  # a number against int, uint
                {"rule": "!has(self.o) || self.o != null"},
                {"rule": "self.?s.orValue('') != 'bad'"},
                {"rule": "[self.?i.orValue(0)] != [1.0]"},  # heterogeneous equality in a list
            ],
            "properties": {
                "i": {"type": "integer"},
                "n": {"type": "number"},
                "o": {"type": "object", "nullable": True, "x-kubernetes-preserve-unknown-fields": True},
                "s": {
                    "type": "string",  # ``self`` typed string in the walk, dyn in the fold
                    "x-kubernetes-validations": [
                        {"rule": "self == 'x' || size(self) > 1"},
                        {"rule": "self != 'é'"},
                    ],
                },
                "b": {"type": "boolean", "x-kubernetes-validations": [{"rule": "self || !self"}]},
            },
        }
    },
}
EDGE_VALUES = [0, 1, 2, -1, 0.5, 1.0, 1.5, 2.0, 2**63 - 1, 2**63, 2**64 - 1, -(2**63), 1e300, None]


@pytest.mark.parametrize("field", ["i", "n", "o", "s", "b"])
def test_the_fold_and_the_walk_agree_on_typed_and_numeric_edges(
    field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = compile_schema(EDGE_SCHEMA)
    values = [*EDGE_VALUES, "", "x", "é", "bad", "ab", True, False, {}, {"a": 1}]
    agreed = []
    for value in values:
        obj = {"spec": {field: value}}
        with_fold = _causes(node, copy.deepcopy(obj))
        monkeypatch.setattr(structural, "folded_holds", lambda node, value: False)
        walked = _causes(node, copy.deepcopy(obj))
        monkeypatch.undo()
        assert with_fold == walked, (field, value)
        agreed.append(bool(walked))
    assert any(agreed) and not all(agreed)  # some refused, some not: both sides compared
