"""The declared-size bound of a looping rule (api/cel/estimated_cost.declared_cost) and the
fold's use of it: a rule proven within cel-go's per-call limit by the schema's maxItems and
maxProperties alone needs no entry count of the value before the fold runs; the bound is
never below the runtime estimate on a value that passed the schema."""

from __future__ import annotations

import zlib
from typing import Any

import pytest
import yaml

from kprov.cluster.api.cel.estimated_cost import declared_cost
from kprov.cluster.api.cel.runtime_cost import PER_CALL_LIMIT, loop_tree, runtime_cost
from kprov.cluster.api.crd import folded
from kprov.cluster.api.crd.pruning import default
from kprov.cluster.api.crd.structural import Node, compile_schema, validate
from kprov.cluster.api.validation.field_errors import Errors
from tests.unit.api.test_crd_cel_fold_fuzz import FAMILIES, _Draw, _versions
from tests.unit.api.test_gateway_api_cel import BUNDLE, httproute

PAIRS = "self.all(a, self.exists_one(b, a.name == b.name))"


def _list(max_items: int | None) -> dict[str, Any]:
    item = {"type": "object", "properties": {"name": {"type": "string"}}}
    schema: dict[str, Any] = {"type": "array", "items": item}
    if max_items is not None:
        schema["maxItems"] = max_items
    return schema


def test_a_rule_is_bounded_only_by_declared_sizes() -> None:
    assert declared_cost(PAIRS, _list(None)) is None  # no maxItems: not proven
    small, large = declared_cost(PAIRS, _list(10)), declared_cost(PAIRS, _list(2000))
    assert small is not None and small <= PER_CALL_LIMIT
    assert large is not None and large > PER_CALL_LIMIT
    tree = loop_tree(PAIRS)
    assert tree is not None
    assert runtime_cost(tree, {"self": [{"name": str(i)} for i in range(10)]}) <= small


def _looping(node: Node, found: list[tuple[Node, str]]) -> None:
    found.extend((node, rule.rule) for rule in node.rules if rule.program.loop_shape is not None)
    for child in (*node.properties.values(), node.items, node.additional):
        if isinstance(child, Node) and child.has_rules:
            _looping(child, found)


def test_the_bound_is_never_below_the_runtime_estimate_on_valid_values() -> None:
    proven, compared = 0, 0
    for path in [path for family in sorted(FAMILIES) for path in FAMILIES[family]]:
        for name, raw in _versions(path):
            root = compile_schema(raw)
            rules: list[tuple[Node, str]] = []
            _looping(root, rules)
            draw = _Draw(zlib.crc32(f"declared/{path.name}/{name}".encode()))
            for node, rule in rules:
                bound = declared_cost(rule, node.raw)
                tree = loop_tree(rule)
                if bound is None or tree is None:
                    continue
                proven += 1
                for value in [draw.value(node) for _ in range(6)]:
                    default(node, value)
                    errors = Errors()
                    validate(node, value, errors, root=False)
                    if errors.causes:
                        continue  # the bound speaks of values that passed the schema
                    compared += 1
                    assert runtime_cost(tree, {"self": value}) <= bound, (name, rule)
    assert proven > 0 and compared > 0


def test_the_httproutes_fold_counts_no_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (BUNDLE / "gateway.networking.k8s.io_httproutes.yaml").read_text(encoding="utf-8")
    (crd,) = [d for d in yaml.safe_load_all(text) if d and d.get("kind") == "CustomResourceDefinition"]
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    node = compile_schema(v1["schema"]["openAPIV3Schema"])
    route = httproute()
    route["spec"]["rules"] *= 4
    default(node, route)

    def counted(*_: object) -> bool:
        raise AssertionError("the entries were counted")

    monkeypatch.setattr(folded, "entries_over", counted)
    assert folded.holds(node, route) is True  # every looping rule proven by maxItems
