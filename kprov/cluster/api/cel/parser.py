"""A recursive-descent parser for CEL's grammar (cel-spec langdef), keeping source offsets.

Design: the CEL runtime (:mod:`.environment`) compiles and evaluates but exposes no syntax
tree, so the policy type check and the cost estimates need their own parse. The tree is
small: identifiers, selections (``a.b``, ``a.?b``), calls (global, receiver and operator
calls, ``_&&_``-style names), index, literals, list/map/message constructions. Each node
records the offset cel-go gives it: a selection the ``.``, a call (global or receiver,
macros too) its ``(``, an index the ``[``, an operator its token, so caret lines match cel-
go's.

Why hand-written rather than cel-python's Lark grammar: importing ``celpy`` and building its
parser is paid in every process that type-checks, it pulls four more packages (lark,
pendulum, jmespath, google-re2), its parse is slower than this one's, and its tree drops the
``.`` tokens whose offsets cel-go reports (the measurements: docs/decisions/0047). This parser only
reads; the binding stays the one evaluator, so a parse it gets wrong can only cost a warning, never
an admission decision."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "Call",
    "CelSyntaxError",
    "Construct",
    "Ident",
    "Index",
    "Literal",
    "Node",
    "RESERVED",
    "Select",
    "parse",
]


class CelSyntaxError(ValueError):
    """The text is not CEL (the binding's compile reports it; the type check skips it)."""


@dataclass(frozen=True)
class Node:
    pos: int  # offset into the source, in code points


@dataclass(frozen=True)
class Ident(Node):
    name: str


@dataclass(frozen=True)
class Literal(Node):
    kind: str  # int, uint, double, string, bytes, bool, null


@dataclass(frozen=True)
class Select(Node):
    operand: Node
    field: str
    optional: bool = False  # a.?b


@dataclass(frozen=True)
class Call(Node):
    function: str  # a name, or an operator's (_+_, _&&_, !_, -_, _?_:_, _[_] is Index)
    target: Node | None
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Index(Node):
    operand: Node
    index: Node
    optional: bool = False  # a[?b]


@dataclass(frozen=True)
class Construct(Node):
    """A list, map or message literal: only its parts matter to the type check."""

    kind: str  # list, map, message
    parts: tuple[Node, ...]


_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n\f]+|//[^\n]*)
  | (?P<string>(?:[rR][bB]?|[bB][rR]?)?(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"
        |'(?:\\.|[^\\'\n])*'|"(?:\\.|[^\\"\n])*"))
  | (?P<number>0[xX][0-9a-fA-F]+[uU]?|(?:[0-9]+\.[0-9]+|\.[0-9]+)(?:[eE][+-]?[0-9]+)?
        |[0-9]+[eE][+-]?[0-9]+|[0-9]+[uU]?)
  | (?P<ident>[_a-zA-Z][_a-zA-Z0-9]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||\.\?|\[\?|[-+*/%<>!?:.,()\[\]{}])
    """,
    re.VERBOSE | re.DOTALL,
)
RESERVED = frozenset(  # cel-spec's reserved words: never a name
    [
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    ]
)
_RELATIONS = {"<": "_<_", "<=": "_<=_", ">": "_>_", ">=": "_>=_", "==": "_==_", "!=": "_!=_", "in": "@in"}


@dataclass(frozen=True)
class _Token:
    kind: str  # string, number, ident, op, end
    text: str
    pos: int


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise CelSyntaxError(f"unexpected character at {pos}")
        kind = match.lastgroup or ""
        if kind != "ws":
            found.append(_Token(kind, match.group(), pos))
        pos = match.end()
    found.append(_Token("end", "", len(text)))
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def accept(self, *ops: str) -> _Token | None:
        token = self.token
        if token.kind in ("op", "ident") and token.text in ops:
            self.at += 1
            return token
        return None

    def expect(self, op: str) -> _Token:
        token = self.accept(op)
        if token is None:
            raise CelSyntaxError(f"expected {op!r} at {self.token.pos}")
        return token

    def expr(self) -> Node:
        condition = self.binary_or()
        question = self.accept("?")
        if question is None:
            return condition
        when_true = self.binary_or()
        self.expect(":")
        return Call(question.pos, "_?_:_", None, (condition, when_true, self.expr()))

    def binary_or(self) -> Node:
        left = self.binary_and()
        while (op := self.accept("||")) is not None:
            left = Call(op.pos, "_||_", None, (left, self.binary_and()))
        return left

    def binary_and(self) -> Node:
        left = self.relation()
        while (op := self.accept("&&")) is not None:
            left = Call(op.pos, "_&&_", None, (left, self.relation()))
        return left

    def relation(self) -> Node:
        left = self.addition()
        while (op := self.accept(*_RELATIONS)) is not None:
            left = Call(op.pos, _RELATIONS[op.text], None, (left, self.addition()))
        return left

    def addition(self) -> Node:
        left = self.multiplication()
        while (op := self.accept("+", "-")) is not None:
            left = Call(op.pos, f"_{op.text}_", None, (left, self.multiplication()))
        return left

    def multiplication(self) -> Node:
        left = self.unary()
        while (op := self.accept("*", "/", "%")) is not None:
            left = Call(op.pos, f"_{op.text}_", None, (left, self.unary()))
        return left

    def unary(self) -> Node:
        op = self.accept("!", "-")
        if op is None:
            return self.member()
        return Call(op.pos, f"{op.text}_", None, (self.unary(),))

    def member(self) -> Node:
        node = self.primary()
        while True:
            if (dot := self.accept(".", ".?")) is not None:
                name = self.take()
                if name.kind != "ident":
                    raise CelSyntaxError(f"expected a field name at {name.pos}")
                if dot.text == "." and (paren := self.accept("(")) is not None:
                    node = Call(paren.pos, name.text, node, self.arguments(")"))
                else:
                    node = Select(dot.pos, node, name.text, dot.text == ".?")
            elif (bracket := self.accept("[", "[?")) is not None:
                index = self.expr()
                self.expect("]")
                node = Index(bracket.pos, node, index, bracket.text == "[?")
            elif self.token.text == "{" and _is_message_name(node):
                brace = self.take()
                node = Construct(brace.pos, "message", self.message_fields())
            else:
                return node

    def arguments(self, close: str) -> tuple[Node, ...]:
        args: list[Node] = []
        while self.accept(close) is None:
            args.append(self.expr())
            if self.accept(",") is None:
                self.expect(close)
                break
        return tuple(args)

    def message_fields(self) -> tuple[Node, ...]:
        values: list[Node] = []
        while self.accept("}") is None:
            self.accept("?")
            if self.take().kind != "ident":
                raise CelSyntaxError("expected a field name in a message literal")
            self.expect(":")
            values.append(self.expr())
            if self.accept(",") is None:
                self.expect("}")
                break
        return tuple(values)

    def map_entries(self) -> tuple[Node, ...]:
        parts: list[Node] = []
        while self.accept("}") is None:
            self.accept("?")
            parts.append(self.expr())
            self.expect(":")
            parts.append(self.expr())
            if self.accept(",") is None:
                self.expect("}")
                break
        return tuple(parts)

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "ident":
            if token.text in ("true", "false"):
                return Literal(token.pos, "bool")
            if token.text == "null":
                return Literal(token.pos, "null")
            if token.text in RESERVED:
                raise CelSyntaxError(f"reserved identifier: {token.text}")
            if (paren := self.accept("(")) is not None:
                return Call(paren.pos, token.text, None, self.arguments(")"))
            return Ident(token.pos, token.text)
        if token.kind == "number":
            text = token.text.lower()
            kind = (
                "uint"
                if text.endswith("u")
                else "double"
                if not text.startswith("0x") and ("." in text or "e" in text)
                else "int"
            )
            return Literal(token.pos, kind)
        if token.kind == "string":
            prefix = token.text[: len(token.text) - len(token.text.lstrip("rRbB"))].lower()
            return Literal(token.pos, "bytes" if "b" in prefix else "string")
        if token.text == ".":  # a leading dot: a name in the root scope
            name = self.take()
            if name.kind != "ident":
                raise CelSyntaxError(f"expected a name at {name.pos}")
            if (paren := self.accept("(")) is not None:
                return Call(paren.pos, name.text, None, self.arguments(")"))
            return Ident(name.pos, name.text)
        if token.text == "(":
            inner = self.expr()
            self.expect(")")
            return inner
        if token.text == "[":
            return Construct(token.pos, "list", self.arguments("]"))
        if token.text == "{":
            return Construct(token.pos, "map", self.map_entries())
        raise CelSyntaxError(f"unexpected {token.text or 'end of input'!r} at {token.pos}")


def _is_message_name(node: Node) -> bool:
    while isinstance(node, Select) and not node.optional:
        node = node.operand
    return isinstance(node, Ident)


def parse(text: str) -> Node:
    """The syntax tree of ``text``; raises :class:`CelSyntaxError` when it is not CEL."""
    parser = _Parser(text)
    node = parser.expr()
    if parser.token.kind != "end":
        raise CelSyntaxError(f"unexpected {parser.token.text!r} at {parser.token.pos}")
    return node
