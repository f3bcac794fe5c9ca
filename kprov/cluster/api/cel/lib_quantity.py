"""Kubernetes' quantity library (upstream library/quantity.go) on the CEL runtime.

``quantity(<string>)``, ``isQuantity``, and on a ``kubernetes.Quantity``: ``sign``,
``isInteger``, ``asInteger`` (an error beyond int64 or for a fraction), ``asApproximateFloat``,
``compareTo``, ``isGreaterThan``, ``isLessThan``, ``add`` and ``sub`` (a quantity or an int).
A value holds its amount as an exact normalized decimal, so ``quantity("1Gi") ==
quantity("1024Mi")`` as upstream's semantic equality.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, localcontext
from typing import Any

from kprov.cluster.api.cel.library import Library

QUANTITY = "kubernetes.Quantity"
_FORM = re.compile(
    r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
)
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_INT64 = (-(2**63), 2**63 - 1)


def parse(text: str) -> Decimal:
    """The amount of a quantity's text; ValueError as resource.ParseQuantity refuses it."""
    match = _FORM.match(text)
    if not match:
        raise ValueError(
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        )
    number, suffix = match.group(1), match.group(2) or ""
    with localcontext() as context:
        context.prec = 100
        amount = Decimal(number)
        if suffix in _BINARY:
            return amount * (2 ** _BINARY[suffix])
        if suffix in _DECIMAL:
            return amount.scaleb(_DECIMAL[suffix])
        return amount.scaleb(int(suffix[1:]))


def _text(amount: Decimal) -> str:
    normalized = amount.normalize()
    return "0" if normalized.is_zero() else format(normalized, "f")


def _declare(cel: Any, types: Mapping[str, Any], classes: Mapping[str, Any]) -> list[Any]:
    quantity, integer, boolean = types[QUANTITY], cel.Type.INT, cel.Type.BOOL
    make = classes[QUANTITY]

    def of(text: str) -> Any:
        return make(amount=_text(parse(text)))

    def amount(value: Any) -> Decimal:
        return Decimal(value.amount)

    def other(value: Any) -> Decimal:
        return Decimal(value) if isinstance(value, int) else amount(value)

    def is_quantity(text: str) -> bool:
        try:
            parse(text)
        except ValueError:
            return False
        return True

    def as_integer(value: Any) -> int:
        number = amount(value)
        if number != number.to_integral_value() or not _INT64[0] <= int(number) <= _INT64[1]:
            raise ValueError("cannot convert value to integer")
        return int(number)

    def compare(a: Any, b: Any) -> int:
        x, y = amount(a), amount(b)
        return (x > y) - (x < y)

    def member(name: str, result: Any, impl: Any, *args: Any) -> Any:
        suffix = "_".join(a.name() for a in args)
        return cel.Overload(f"quantity_{name}_{suffix}", result, [quantity, *args], is_member=True, impl=impl)

    def arith(name: str, sign: int) -> Any:
        def impl(a: Any, b: Any) -> Any:
            with localcontext() as context:
                context.prec = 100
                return make(amount=_text(amount(a) + sign * other(b)))

        return cel.FunctionDecl(
            name, [member(name, quantity, impl, quantity), member(name, quantity, impl, integer)]
        )

    return [
        cel.FunctionDecl(
            "quantity", [cel.Overload("string_to_quantity", quantity, [cel.Type.STRING], impl=of)]
        ),
        cel.FunctionDecl(
            "isQuantity", [cel.Overload("is_quantity_string", boolean, [cel.Type.STRING], impl=is_quantity)]
        ),
        cel.FunctionDecl("sign", [member("sign", integer, lambda v: (amount(v) > 0) - (amount(v) < 0))]),
        cel.FunctionDecl(
            "isInteger",
            [
                member(
                    "isInteger",
                    boolean,
                    lambda v: (
                        amount(v) == amount(v).to_integral_value()
                        and _INT64[0] <= int(amount(v)) <= _INT64[1]
                    ),
                )
            ],
        ),
        cel.FunctionDecl("asInteger", [member("asInteger", integer, as_integer)]),
        cel.FunctionDecl(
            "asApproximateFloat", [member("asApproximateFloat", cel.Type.DOUBLE, lambda v: float(amount(v)))]
        ),
        cel.FunctionDecl("compareTo", [member("compareTo", integer, compare, quantity)]),
        cel.FunctionDecl(
            "isGreaterThan", [member("isGreaterThan", boolean, lambda a, b: compare(a, b) > 0, quantity)]
        ),
        cel.FunctionDecl(
            "isLessThan", [member("isLessThan", boolean, lambda a, b: compare(a, b) < 0, quantity)]
        ),
        arith("add", 1),
        arith("sub", -1),
    ]


LIBRARY = Library("quantity", _declare, ((QUANTITY, ("amount",)),))
