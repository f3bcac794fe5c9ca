"""A node's rules judged together: one runtime call when every rule holds, each rule on its
own (messages, field paths, errors) as soon as one does not."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.api.cel.environment import Program
from kprov.cluster.api.crd.cel import compile_rules, evaluate_rules

RULES = (
    {"rule": "self.min <= self.max // a trailing comment", "message": "min must not exceed max"},
    {"rule": "self.name.size() <= 5", "messageExpression": "'name ' + self.name + ' too long'"},
    {"rule": "self.name == oldSelf.name", "message": "name is immutable", "reason": "FieldValueForbidden"},
    {"rule": "self.ports.all(p, p > 0)", "fieldPath": ".ports"},
)


def _causes(value: Any, old: Any = None, has_old: bool = False) -> list[tuple[str, str, str]]:
    rules = compile_rules(RULES)
    return [(c.field, c.reason, c.message) for c in evaluate_rules(rules, value, old, has_old, "spec")]


def test_the_conjunctions_leave_out_what_they_must() -> None:
    rules = compile_rules(RULES)
    assert len(rules) == 4
    assert rules.on_create is not None and rules.on_update is not None
    assert "oldSelf" not in rules.on_create.names  # a transition rule runs on update only
    assert "oldSelf" in rules.on_update.names
    lone = compile_rules(({"rule": "self.min > 0"},))
    assert lone.on_create is lone.rules[0].program  # a lone rule is its own conjunction
    optional = compile_rules(({"rule": "self.min > 0"}, {"rule": "oldSelf.min > 0", "optionalOldSelf": True}))
    assert [r.rule for r in optional.outside] == ["oldSelf.min > 0"]
    assert optional.on_update is optional.rules[0].program


def test_a_valid_value_is_judged_in_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """With every rule's own program broken, a valid value still passes: the conjunction
    answered alone (on update too, the transition rule in it)."""
    rules = compile_rules(RULES)
    value = {"min": 1, "max": 2, "name": "web", "ports": [80, 443]}
    own = {id(rule.program): rule.rule for rule in rules}
    alone: list[str] = []
    execute = Program.execute

    def counted(self: Program, values: Any) -> Any:
        if id(self) in own:
            alone.append(own[id(self)])
        return execute(self, values)

    monkeypatch.setattr(Program, "execute", counted)
    assert evaluate_rules(rules, value, None, False, "spec") == []
    assert evaluate_rules(rules, value, {"name": "web"}, True, "spec") == []
    assert alone == []
    # an invalid value: rule by rule, the transition rule left out on create
    assert len(evaluate_rules(rules, value | {"min": 3}, None, False, "spec")) == 1
    assert alone == [RULES[0]["rule"], RULES[1]["rule"], RULES[3]["rule"]]


def test_a_broken_rule_is_reported_with_its_own_words() -> None:
    value = {"min": 3, "max": 2, "name": "website", "ports": [80, 0]}
    assert _causes(value) == [
        ("spec", "FieldValueInvalid", 'Invalid value: "object": min must not exceed max'),
        ("spec", "FieldValueInvalid", 'Invalid value: "object": name website too long'),
        ("spec.ports", "FieldValueInvalid", 'Invalid value: "object": failed rule: self.ports.all(p, p > 0)'),
    ]
    assert _causes(value | {"min": 1, "name": "web", "ports": [1]}, {"name": "api"}, True) == [
        ("spec", "FieldValueForbidden", "Forbidden: name is immutable"),
    ]


def test_an_erring_rule_beside_true_ones_is_still_an_error() -> None:
    """``true && <error>`` is an error, never true: the rule that errs is reported."""
    causes = _causes({"min": 1, "max": 2, "name": "web"})  # no ports: self.ports errs
    assert len(causes) == 1
    field, reason, message = causes[0]
    assert (field, reason) == ("spec.ports", "FieldValueInvalid")
    assert "no such key: ports" in message and message.endswith("evaluating rule: self.ports.all(p, p > 0)")
