"""A CRD's rules are costed from its schema when it is written, as kube-apiserver refuses a
CRD whose rules could cost too much (upstream's e2e schemas: one refused, one accepted)."""

from __future__ import annotations

import copy
from typing import Any

from kprov.cluster.api.cel.estimated_cost import cost_error_message, estimated_cost
from kprov.cluster.api.crd.definition import validate_crd

BASE = "spec.versions[0].schema.openAPIV3Schema"
RULE = "self.all(s, s == 'string constant')"


def _crd(schema: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "ws.example.com"}, "spec": {
        "group": "example.com", "scope": "Namespaced", "names": {"plural": "ws", "kind": "W"},
        "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}]}}


def _lists_of_strings(outer: int | None = None, inner: int | None = None) -> dict[str, Any]:
    strings: dict[str, Any] = {"type": "array", "items": {"type": "string"},
                               "x-kubernetes-validations": [{"rule": RULE}]}
    lists: dict[str, Any] = {"type": "array", "items": strings}
    if inner is not None:
        strings["maxItems"] = inner
    if outer is not None:
        lists["maxItems"] = outer
    return {"type": "object", "properties": {"spec": {"type": "object", "properties": {"x": lists}}}}


def test_a_rule_looping_over_unbounded_lists_in_an_unbounded_list_is_refused_with_upstreams_words() -> None:
    causes = [(c.field, c.reason, c.message) for c in validate_crd(_crd(_lists_of_strings()))]
    rule_path = f"{BASE}.properties[spec].properties[x].items.x-kubernetes-validations[0].rule"
    hint = ("(try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, "
            "and strings are declared)")
    over = "exceeds budget by factor of more than 100x"
    assert causes == [
        (rule_path, "FieldValueForbidden", f"Forbidden: estimated rule cost {over} {hint}"),
        (rule_path, "FieldValueForbidden",
         "Forbidden: contributed to estimated rule cost total exceeding cost limit for entire "
         "OpenAPIv3 schema"),
        (BASE, "FieldValueForbidden",
         "Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema "
         f"{over} {hint}"),
    ]


def test_bounded_lists_let_the_same_rule_through() -> None:
    assert validate_crd(_crd(_lists_of_strings(outer=100, inner=100))) == []


def test_the_runtime_limit_specs_schema_is_accepted_though_its_rule_loops_twice() -> None:
    schema = {"type": "object", "properties": {"spec": {
        "type": "object",
        "x-kubernetes-validations": [{"rule": "self.largeArray.all(x, self.largeArray.all(y, y == x))"}],
        "properties": {"largeArray": {"type": "array", "maxItems": 725, "items": {"type": "integer"}}}}}}
    assert validate_crd(_crd(schema)) == []
    cost = estimated_cost("self.largeArray.all(x, self.largeArray.all(y, y == x))",
                          schema["properties"]["spec"], 1)
    assert cost is not None and 1_000_000 < cost < 10_000_000  # over the per-call limit only when run


def test_an_update_keeping_an_expensive_rule_is_not_refused_for_it() -> None:
    old = _crd(_lists_of_strings())
    new = copy.deepcopy(old)
    new["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["description"] = "edited"
    assert validate_crd(new, old) == []


def test_the_factor_is_worded_as_upstream_words_it() -> None:
    assert "by factor of 1.200000x " in cost_error_message("x", 12, 10)
    assert "by factor of 2.5x " in cost_error_message("x", 25, 10)
    assert "by factor of more than 100x " in cost_error_message("x", 1001, 10)
