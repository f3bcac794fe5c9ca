"""Label and field selectors: parsing the query-string syntax and matching objects.

Design: both selectors parse once into immutable requirement tuples and then match plain
dicts. Label selectors follow the apimachinery grammar (`a=b`, `a==b`, `a!=b`, `a in (x,y)`,
`a notin (x)`, `a`, `!a`, `a>1`, `a<1`, comma = AND); field selectors support `=`, `==`,
`!=` with backslash escapes and empty values. Bad input raises `SelectorError` whose message
is what a 400 BadRequest should carry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.api.validation.names import label_value_errors, qualified_name_errors

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "LabelSelector",
    "Requirement",
    "SelectorError",
    "field_value",
    "label_selector_from_object",
    "parse_field_selector",
    "parse_label_selector",
    "selector_admits",
]


class SelectorError(ValueError):
    """An unparsable or unsupported selector (HTTP 400)."""


@dataclass(frozen=True)
class Requirement:
    """One label requirement; op is one of in, notin, exists, !exists, gt, lt, =, !=."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op in ("in", "="):
            return present and value in self.values
        if self.op in ("notin", "!="):
            return not present or value not in self.values
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if not present:
            return False
        try:
            number = int(str(value))
        except ValueError:
            return False
        bound = int(self.values[0])
        return number > bound if self.op == "gt" else number < bound

    def __str__(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "!exists":
            return "!" + self.key
        if self.op in ("=", "!="):
            return f"{self.key}{self.op}{self.values[0]}"
        if self.op in ("gt", "lt"):
            return f"{self.key}{'>' if self.op == 'gt' else '<'}{self.values[0]}"
        return f"{self.key} {self.op} ({','.join(sorted(self.values))})"


@dataclass(frozen=True)
class LabelSelector:
    """AND of requirements. `nothing=True` is the selector that matches no object (nil selector)."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        return all(req.matches(labels) for req in self.requirements)

    def matches_object(self, obj: Mapping[str, Any]) -> bool:
        return self.matches((obj.get("metadata") or {}).get("labels") or {})

    @property
    def empty(self) -> bool:
        """True when it selects everything."""
        return not self.nothing and not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in sorted(self.requirements, key=lambda r: r.key))


_LABEL_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|>|<|[^\s!=(),<>]+)")


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _LABEL_TOKEN.match(text, pos)
        if match is None:  # pragma: no cover - the pattern accepts any non-space character
            raise SelectorError(f"unable to parse requirement: unexpected character at {pos} in {text!r}")
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


def _check_key(key: str) -> None:
    errors = qualified_name_errors(key)
    if errors:
        raise SelectorError(f'unable to parse requirement: key: Invalid value: "{key}": {"; ".join(errors)}')


def _check_value(key: str, index: int, value: str) -> None:
    errors = label_value_errors(value)
    if errors:
        raise SelectorError(
            f"unable to parse requirement: values[{index}][{key}]: "
            f'Invalid value: "{value}": {"; ".join(errors)}'
        )


_OPERATOR_TOKENS = {"=": "=", "==": "=", "!=": "!=", "in": "in", "notin": "notin", ">": "gt", "<": "lt"}
_SEPARATORS = {",", "(", ")", "=", "==", "!=", "!", ">", "<"}


class _LabelParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str | None:
        token = self.peek()
        self.pos += 1
        return token

    def fail(self, what: str) -> SelectorError:
        return SelectorError(f"unable to parse requirement: {what} in label selector {self.text!r}")

    def parse(self) -> LabelSelector:
        requirements: list[Requirement] = []
        while self.peek() is not None:
            requirements.append(self.requirement())
            token = self.take()
            if token is None:
                break
            if token != ",":
                raise self.fail(f"found '{token}', expected: ','")
            if self.peek() is None:
                raise self.fail("found end of selector after ','")
        return LabelSelector(tuple(requirements))

    def requirement(self) -> Requirement:
        negate = self.peek() == "!"
        if negate:
            self.take()
        key = self.take()
        if key is None or key in _SEPARATORS:
            raise self.fail(f"found '{key or ''}', expected: identifier")
        _check_key(key)
        following = self.peek()
        if negate:
            if following not in (None, ","):
                raise self.fail(f"found '{following}', expected: ',' or end of string after '!{key}'")
            return Requirement(key, "!exists")
        if following in (None, ","):
            return Requirement(key, "exists")
        op = _OPERATOR_TOKENS.get(str(self.take()))
        if op is None:
            raise self.fail(f"found '{following}', expected: in, notin, =, ==, !=, gt, lt")
        if op in ("in", "notin"):
            values = self.value_set(key)
        else:
            token = self.peek()
            value = "" if token in (None, ",") else str(self.take())
            if value in _SEPARATORS:
                raise self.fail(f"found '{value}', expected: value")
            values = (value,)
            if op in ("gt", "lt") and not re.fullmatch(r"-?\d+", value):
                raise SelectorError(
                    f"unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer: "
                    f"{value!r}"
                )
        for index, value in enumerate(values):
            if op not in ("gt", "lt"):
                _check_value(key, index, value)
        return Requirement(key, op, values)

    def value_set(self, key: str) -> tuple[str, ...]:
        if self.take() != "(":
            raise self.fail(f"expected '(' after 'in'/'notin' for key {key!r}")
        values: list[str] = []
        expect_value = True
        while True:
            token = self.take()
            if token is None:
                raise self.fail("found end of selector, expected ')'")
            if token == ")":
                if expect_value and values:
                    values.append("")
                break
            if token == ",":
                if expect_value:
                    values.append("")
                expect_value = True
                continue
            if not expect_value or token in _SEPARATORS:
                raise self.fail(f"found '{token}', expected: ',' or ')'")
            values.append(token)
            expect_value = False
        if not values:
            raise SelectorError(
                "unable to parse requirement: for 'in', 'notin' operators, values set can't be empty"
            )
        return tuple(values)


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse `?labelSelector=` text; empty or None selects everything."""
    if not text or not text.strip():
        return LabelSelector()
    return _LabelParser(text).parse()


_EXPRESSION_OPS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}


def label_selector_from_object(selector: Mapping[str, Any] | None) -> LabelSelector:
    """A metav1.LabelSelector dict (matchLabels / matchExpressions). None selects nothing; {} all."""
    if selector is None:
        return LabelSelector(nothing=True)
    requirements: list[Requirement] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        _check_key(key)
        _check_value(key, 0, str(value))
        requirements.append(Requirement(key, "=", (str(value),)))
    for expression in selector.get("matchExpressions") or []:
        key = str(expression.get("key", ""))
        operator = str(expression.get("operator", ""))
        op = _EXPRESSION_OPS.get(operator)
        if op is None:
            raise SelectorError(f'"{operator}" is not a valid label selector operator')
        _check_key(key)
        values = tuple(str(v) for v in expression.get("values") or ())
        if op in ("in", "notin") and not values:
            raise SelectorError("for 'in', 'notin' operators, values set can't be empty")
        if op in ("exists", "!exists") and values:
            raise SelectorError("values set must be empty for exists and does not exist")
        for index, value in enumerate(values):
            _check_value(key, index, value)
        requirements.append(Requirement(key, op, values))
    return LabelSelector(tuple(requirements))


# ---------------------------------------------------------------------------------------------
# Field selectors


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    op: str  # "=" or "!="
    value: str


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: Mapping[str, Any]) -> bool:
        for req in self.requirements:
            equal = field_value(obj, req.field) == req.value
            if equal != (req.op == "="):
                return False
        return True

    def value_for(self, field: str) -> str | None:
        """The value an `=` requirement pins `field` to (e.g. metadata.name for a single-object watch)."""
        for req in self.requirements:
            if req.field == field and req.op == "=":
                return req.value
        return None

    def check_supported(self, info: ResourceInfo) -> None:
        for req in self.requirements:
            if req.field not in info.field_selectors:
                raise SelectorError(
                    f"field label not supported: {req.field}"
                    if info.field_selectors
                    else f'"{req.field}" is not a known field selector: only "metadata.name", '
                    '"metadata.namespace"'
                )


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    out, escaped = [], False
    for char in text:
        if escaped:
            if char not in "\\,=!":
                raise SelectorError(f"invalid field selector: invalid escape sequence '\\{char}' in {text!r}")
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    if escaped:
        raise SelectorError(f"invalid field selector: trailing backslash in {text!r}")
    return "".join(out)


def _split_term(term: str) -> tuple[str, str, str] | None:
    index = 0
    while index < len(term):
        char = term[index]
        if char == "\\":
            index += 2
            continue
        for op in ("!=", "==", "="):
            if term.startswith(op, index):
                return term[:index], "!=" if op == "!=" else "=", term[index + len(op) :]
        index += 1
    return None


def parse_field_selector(text: str | None, info: ResourceInfo | None = None) -> FieldSelector:
    """Parse `?fieldSelector=`; with `info`, reject field labels the kind does not support."""
    if not text or not text.strip():
        return FieldSelector()
    requirements = []
    for term in _split_unescaped(text, ","):
        if term == "":
            continue
        split = _split_term(term)
        if split is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, value = split
        field = _unescape(field).strip()
        if not field:
            raise SelectorError(f"invalid selector: '{text}'; field name is empty in '{term}'")
        requirements.append(FieldRequirement(field, op, _unescape(value)))
    selector = FieldSelector(tuple(requirements))
    if info is not None:
        selector.check_supported(info)
    return selector


_BOOL_DEFAULT_FALSE = ("spec.unschedulable", "spec.hostNetwork")


def field_value(obj: Mapping[str, Any], field: str) -> str:
    """The string a field selector compares against: missing -> "", bools -> "true"/"false"."""
    if field == "source" and (obj.get("kind") == "Event" or "involvedObject" in obj):  # core/v1 Events
        # the source component, else the reporting controller (upstream's selectable fields)
        source = obj.get("source") or {}
        return str(source.get("component") or obj.get("reportingComponent") or "")
    value: Any = obj
    for part in field.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
        if value is None:
            break
    if value is None:
        return "false" if field in _BOOL_DEFAULT_FALSE else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def selector_admits(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """An admission configuration's namespaceSelector/objectSelector: absent or empty admits
    everything; a selector that does not parse admits nothing (webhooks and
    ValidatingAdmissionPolicy match this way)."""
    if not selector:
        return True
    try:
        return label_selector_from_object(selector).matches(dict(labels))
    except (SelectorError, ValueError):
        return False
