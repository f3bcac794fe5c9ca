"""The bound that skips the runtime-cost estimate never skips one that would exceed it:
the estimate is at most the rule tree's size times the value's entries to the power of its
comprehension depth; past the bound, the estimate decides, on both sides of the limit."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kprov.cluster.api.cel.runtime_cost import (
    PER_CALL_LIMIT,
    loop_shape,
    loop_tree,
    runtime_cost,
    within_limit,
)


def _named(width: int) -> object:
    return [{"name": f"n{i}"} for i in range(width)]


def _nested(width: int) -> object:
    inner = [{"items": list(range(width))}] * width  # (shared: large counts, small memory)
    return [{"name": "a", "items": inner}] * width


CASES: list[tuple[str, Callable[[int], object]]] = [
    ("self.all(p1, self.exists_one(p2, p1.name == p2.name))", _named),
    ("self.all(x, x.items.all(y, y.items.all(z, z > 0)))", _nested),
    ("self.map(x, x.name).all(n, n != '') && self.exists(x, has(x.items))", _nested),
]


def _entries(value: object, cap: int = 10**5) -> int:
    count, stack = 0, [value]
    while stack and count <= cap:
        item = stack.pop()
        if isinstance(item, dict):
            count += len(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            count += len(item)
            stack.extend(item)
    return count


@pytest.mark.parametrize(("rule", "make"), CASES)
def test_the_bound_holds_and_decides_as_the_estimate(rule: str, make: Callable[[int], object]) -> None:
    tree = loop_tree(rule)
    assert tree is not None
    shape = loop_shape(tree)
    decisions = set()
    for width in (1, 3, 10, 30, 100, 300, 1000):
        value = make(width)
        cost = runtime_cost(tree, {"self": value})
        assert cost <= shape.size * max(_entries(value), 1) ** shape.depth
        decided = within_limit(tree, shape, {"self": value})
        assert decided == (cost <= PER_CALL_LIMIT)
        decisions.add(decided)
    assert decisions == {True, False} or rule.startswith("self.map")  # (that one stays linear)
