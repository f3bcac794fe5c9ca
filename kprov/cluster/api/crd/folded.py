"""A schema subtree's create-time rules as one program: the fast answer for a valid object.

Design: kube-apiserver runs each x-kubernetes-validations rule on each value it applies to;
kprov's walk (:func:`kprov.cluster.api.crd.structural.validate`) does the same, one runtime
call per node holding rules (its rules joined, :class:`~kprov.cluster.api.crd.cel.RuleSet`),
and each call converts the node's whole value for the runtime again. :func:`holds` answers
"does every rule the walk would run on a create hold?" in one call on the root value: the
subtree's rules are joined into one expression that binds ``self`` to each value the walk
would visit, without rewriting any rule:

- a node's own rules (those a create runs: no ``oldSelf``), each as written, joined by ``&&``;
- a property ``k`` whose subtree has rules: ``[self[?'k'].orValue(dyn(null))].all(self,
  self == null || <its subtree>)`` (a missing or null value is skipped, as the walk does);
- list items: ``self.all(self, self == null || <items>)``; map values (additionalProperties)
  likewise through their keys.

CEL's ``&&`` and ``all`` are true only when every part is true (an error or a false anywhere
makes them not true), so a true answer is the walk's "no cause"; anything else (and any
subtree this cannot join: ``optionalOldSelf`` rules, properties beside additionalProperties
with rules, a join the runtime refuses) goes to the walk, which words the causes.

Runtime cost: every looping rule inside stays within cel-go's per-call limit on each value it
would judge when the whole value holds no more entries than the smallest of their bounds
(:attr:`~kprov.cluster.api.cel.runtime_cost.LoopShape.entries_cap`: a rule's value is part of
the root's, so it holds no more entries); a larger value goes to the walk, which estimates
each rule on its own value. A looping rule whose schema alone keeps it within the limit (every
range it loops over declares ``maxItems``/``maxProperties``:
:func:`~kprov.cluster.api.cel.estimated_cost.declared_cost`) sets no bound, since a value that
passed the schema cannot exceed it; a fold whose looping rules are all so counts nothing.

Updates: a subtree holding no transition rule (none naming ``oldSelf``, none with
``optionalOldSelf``) runs exactly its create-time rules on the new value, so the same fold
answers it (:func:`has_transition_rules` tells the walk where); a subtree holding one goes to
the walk, which pairs old and new values for it and folds the subtrees below that hold none.

Only what the rules read is converted: a node with no rules of its own whose rules all lie
below one property (a custom object's root, whose rules are all under ``spec``) is answered
by that property's fold on that property's value (:func:`_descent`, kept on the node), so
the runtime never converts the root's ``metadata``, ``apiVersion`` and ``kind``, and the entry
bound counts only that value. It is the same answer: the joined root would be
``[self[?'spec'].orValue(dyn(null))].all(self, self == null || <spec>)``, true for a missing
or null ``spec`` as the walk finds nothing there.

A value met again (an update leaving the subtree as it was, objects made from one template)
is answered from the answers kept by value on the folded program (:mod:`.fold_answers`), not
converted and evaluated again: the answer is a function of the value alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kprov.cluster.api.cel.environment import CompileError, Program, environment
from kprov.cluster.api.cel.estimated_cost import declared_cost
from kprov.cluster.api.cel.runtime_cost import PER_CALL_LIMIT, entries_over
from kprov.cluster.api.crd.fold_answers import Answers, key_of
from kprov.cluster.api.crd.schema_node import Node

__all__ = ["Folded", "fold", "has_transition_rules", "holds"]

_MEMO = "folded"
_DESCENT = "folded-descent"
_TRANSITIONS = "folded-transitions"
_UNBOUNDED = -1


@dataclass(frozen=True)
class Folded:
    """A subtree's joined program, the most entries a value may hold for it to answer (-1:
    no looping rule inside, any value), and its answers on values already judged."""

    program: Program
    entries_cap: int
    answers: Answers = field(default_factory=Answers, compare=False)

    def answer(self, value: Any) -> bool:
        """Does the program hold on ``value`` within the entry bound? Kept by value
        (:mod:`.fold_answers`): a pure function of ``value``."""
        key = key_of(value)
        if key is not None:
            known = self.answers.get(key)
            if known is not None:
                return known
        if self.entries_cap != _UNBOUNDED and entries_over((value,), self.entries_cap):
            answer = False
        else:
            answer = self.program.holds_unchecked({"self": value})
        if key is not None:
            self.answers.put(key, answer)
        return answer


@dataclass(frozen=True)
class _Text:
    text: str
    cap: int


def _smaller(a: int, b: int) -> int:
    if a == _UNBOUNDED:
        return b
    return a if b == _UNBOUNDED else min(a, b)


def _within_limit_by_schema(rule: str, node: Node) -> bool:
    """Is the looping ``rule`` within cel-go's per-call limit on every value that passed
    ``node``'s schema, by the declared sizes alone? Then its values need no entry bound."""
    bound = declared_cost(rule, node.raw)
    return bound is not None and bound <= PER_CALL_LIMIT


def _join(node: Node) -> _Text | None:
    """The subtree's create-time rules as one expression over ``self``; None if it cannot be
    joined."""
    rules = node.rules
    if rules.outside:
        return None
    parts, cap = [], _UNBOUNDED
    for rule in rules:
        if rule.transition:
            continue  # run on update only
        parts.append(f"({rule.rule}\n)")  # a newline ends a trailing ``//`` comment
        shape = rule.program.loop_shape
        if shape is not None and not _within_limit_by_schema(rule.rule, node):
            cap = _smaller(cap, shape.entries_cap)
    below = [(key, child) for key, child in node.properties.items() if child.has_rules]
    additional = node.additional if isinstance(node.additional, Node) and node.additional.has_rules else None
    items = node.items if node.items is not None and node.items.has_rules else None
    if (additional is not None and node.properties) or sum(map(bool, (below, additional, items))) > 1:
        return None  # not a structural shape the walk could meet as one kind
    for key, child in below:
        sub = _join(child)
        if sub is None:
            return None
        # a missing key reads as null (an optional index), skipped as the walk skips it
        parts.append(f"[self[?{json.dumps(key)}].orValue(dyn(null))].all(self, self == null || {sub.text})")
        cap = _smaller(cap, sub.cap)
    loops = (
        (additional, "self.all(kprov_key, [self[kprov_key]].all(self, ", "))"),
        (items, "self.all(self, ", ")"),
    )
    for inner, opening, closing in loops:
        if inner is None:
            continue
        sub = _join(inner)
        if sub is None:
            return None
        parts.append(f"{opening}self == null || {sub.text}{closing}")  # && binds before ||
        cap = _smaller(cap, sub.cap)
    return _Text(" && ".join(parts) or "true", cap)


def fold(node: Node) -> Folded | None:
    """``node``'s subtree joined (built on first use, kept on the node); None if it cannot be."""
    memo = node.memo
    if _MEMO not in memo:
        joined = _join(node) if node.has_rules else None
        folded = None
        if joined is not None:
            try:
                folded = Folded(environment().compile(joined.text, {"self": "dyn"}), joined.cap)
            except CompileError:
                folded = None
        memo[_MEMO] = folded
    result = memo[_MEMO]
    return result if isinstance(result, Folded) else None


def has_transition_rules(node: Node) -> bool:
    """Does ``node``'s subtree hold a rule an update runs differently from a create (one
    naming ``oldSelf``, or with ``optionalOldSelf``)? Kept on the node."""
    memo = node.memo
    if _TRANSITIONS not in memo:
        below = [*node.properties.values(), node.items, node.additional]
        memo[_TRANSITIONS] = (
            any(rule.transition or rule.optional_old_self for rule in node.rules)
            or any(has_transition_rules(c) for c in below if isinstance(c, Node) and c.has_rules)
        )
    return memo[_TRANSITIONS] is True


def _only_child(node: Node) -> tuple[str, Node] | None:
    """The one property below which all of ``node``'s rules lie, if there is one and
    ``node`` has no rules of its own (nor below its items or additional properties)."""
    if node.rules or (node.items is not None and node.items.has_rules):
        return None
    if isinstance(node.additional, Node) and node.additional.has_rules:
        return None
    below = [(key, child) for key, child in node.properties.items() if child.has_rules]
    return below[0] if len(below) == 1 else None


def _descent(node: Node) -> tuple[tuple[str, ...], Node]:
    """The keys from ``node`` down to the node whose fold answers for it, and that node."""
    memo = node.memo
    if _DESCENT not in memo:
        keys: list[str] = []
        target = node
        while (step := _only_child(target)) is not None:
            keys.append(step[0])
            target = step[1]
        memo[_DESCENT] = (tuple(keys), target)
    found = memo[_DESCENT]
    assert isinstance(found, tuple)
    return found


def holds(node: Node, value: Any) -> bool:
    """Does every rule a create runs in ``node``'s subtree hold on ``value``? False when not,
    and when this cannot tell (the walk then judges, rule by rule)."""
    keys, node = _descent(node)
    for key in keys:
        if not isinstance(value, dict):
            return False  # not a shape the walk descends: let it judge
        value = value.get(key)
        if value is None:
            return True  # missing or null: the walk runs no rule there
    folded = fold(node)
    return False if folded is None else folded.answer(value)
