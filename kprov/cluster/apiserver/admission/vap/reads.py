"""Which parts of the request's objects a policy's CEL expressions read, and pruning to them.

Design: converting a value into CEL is the cost of a policy (a defaulted pod with its
managedFields is most of a request's policy time, and every select on it is slower too;
docs/decisions/0049), and most
policies read a few fields. :func:`expression_reads` scans an expression's tokens (the
binding exposes no syntax tree) for the field paths it selects from each root variable
(``object``, ``oldObject``, ``namespaceObject``) and returns them as a :data:`ReadTree`;
:func:`prune` keeps only those parts of a value. The scan errs one way only: whatever it
cannot follow is kept whole. A path ends at the first step that is not a plain ``.field``
(an index, an optional select, an escaped name, a parenthesis, an operator, a method call);
the value there is kept whole. The exceptions, each exact by CEL's semantics:

- ``x.all/exists/exists_one/map(v, body)`` (two arguments): ``v`` is bound to each element
  (list) or key (map) of ``x``; ``body`` is scanned with ``v`` standing for ``x.*``, so each
  element keeps only what ``body`` reads from ``v`` (``filter`` returns the elements
  themselves, so it is not followed and ``x`` stays whole);
- ``x.size()`` and ``size(x)`` read the number of elements: ``x.*`` with nothing below;
- ``has(x.f)`` reads whether ``f`` is there: ``x.f`` with nothing below.

:func:`prune` never drops a key a path names or a list element, and keeps scalars and
anything not shaped as a path expects (a list under a ``.field``) whole, so a pruned value
gives every expression the same result, the same errors included. Keys of a map under
``*`` are all kept (a ``.all(k, ...)`` over a map binds its keys).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import orjson

__all__ = ["ROOTS", "ReadTree", "expression_reads", "held_key", "merge_reads", "prune"]

ReadTree: TypeAlias = "dict[str, ReadTree] | None"
"""What is read below a value: None is all of it; a dict, only its keys (``*``: every
element or key, each with its own subtree); an empty dict, the value's presence only."""

ROOTS = frozenset({"object", "oldObject", "namespaceObject"})
EVERY = "*"
_BINDING_MACROS = frozenset({"all", "exists", "exists_one", "map"})  # not filter: it returns elements
_OPENING, _CLOSING = "([{", ")]}"
_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*)
    | (?P<string>(?P<prefix>[rRbB]{0,2})(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"
                  |'(?:\\.|[^\\'\n])*'|"(?:\\.|[^\\"\n])*"))
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<number>(?:0[xX][0-9a-fA-F]+|\d*\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)[uU]?)
    | (?P<punct>&&|\|\||[=!<>]=|[-+*/%<>!?:.,()\[\]{}])
    """,
    re.VERBOSE,
)


class _Unreadable(Exception):
    """The text is beyond the scanner (it then keeps every root it names whole)."""


@dataclass(frozen=True)
class _Token:
    kind: str  # ident, string, number, punct
    text: str


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _Unreadable(text[position:])
        position = match.end()
        kind = match.lastgroup or ""
        if match.group("string") is not None:
            if "r" in match.group("prefix").lower() and "\\" in match.group("string"):
                raise _Unreadable("a raw string with a backslash")  # where it ends is the parser's call
            kind = "string"
        if kind != "space":
            found.append(_Token(kind, match.group(0)))
    return found


def _insert(reads: dict[str, ReadTree], root: str, path: Iterable[str], below: ReadTree) -> None:
    """Record that ``root.path`` is read, with ``below`` read under it."""
    node: ReadTree = reads.setdefault(root, {})
    steps = list(path)
    if node is None:
        return
    for step in steps[:-1]:
        child = node.setdefault(step, {})
        if child is None:
            return
        node = child
    if not steps:
        reads[root] = _merge(node, below)
    else:
        node[steps[-1]] = _merge(node.get(steps[-1], {}), below)


def _merge(left: ReadTree, right: ReadTree) -> ReadTree:
    if left is None or right is None:
        return None
    merged = dict(left)
    for key, tree in right.items():
        merged[key] = _merge(merged[key], tree) if key in merged else tree
    return merged


def merge_reads(parts: Iterable[Mapping[str, ReadTree]]) -> dict[str, ReadTree]:
    """The union of several expressions' (or policies') reads, per root."""
    merged: dict[str, ReadTree] = {}
    for part in parts:
        for root, tree in part.items():
            merged[root] = _merge(merged[root], tree) if root in merged else tree
    return merged


def _closing(tokens: list[_Token], opening: int) -> tuple[int, list[int]]:
    """The index of the bracket closing ``tokens[opening]`` and of the commas directly inside."""
    depth, commas = 0, list[int]()
    for index in range(opening, len(tokens)):
        token = tokens[index]
        if token.kind != "punct":
            continue
        if token.text in _OPENING:
            depth += 1
        elif token.text in _CLOSING:
            depth -= 1
            if depth == 0:
                return index, commas
        elif token.text == "," and depth == 1:
            commas.append(index)
    raise _Unreadable("unbalanced brackets")


def _is(tokens: list[_Token], index: int, text: str) -> bool:
    return index < len(tokens) and tokens[index].kind == "punct" and tokens[index].text == text


def _ident(tokens: list[_Token], index: int) -> bool:
    return index < len(tokens) and tokens[index].kind == "ident"


def _scan(
    tokens: list[_Token], start: int, end: int, names: Mapping[str, tuple[str, tuple[str, ...]]],
    reads: dict[str, ReadTree],
) -> None:
    """Record in ``reads`` what ``tokens[start:end]`` reads through ``names`` (an identifier
    → the root and the path it stands for)."""
    index = start
    while index < end:
        token = tokens[index]
        bound = names.get(token.text) if token.kind == "ident" else None
        if bound is None:
            index += 1
            continue
        root, path = bound[0], list(bound[1])
        after = index + 1
        below: ReadTree = None
        while after < end and _is(tokens, after, ".") and _ident(tokens, after + 1):
            step = tokens[after + 1].text
            if _is(tokens, after + 2, "("):  # a method: the receiver ends here
                closing, commas = _closing(tokens, after + 2)
                if step == "size" and closing == after + 3:
                    below, after = {EVERY: {}}, closing + 1
                elif (
                    step in _BINDING_MACROS and len(commas) == 1 and commas[0] == after + 4
                    and _ident(tokens, after + 3)
                ):
                    inner = {**names, tokens[after + 3].text: (root, (*path, EVERY))}
                    _insert(reads, root, (*path, EVERY), {})  # each element present, even unread
                    _scan(tokens, commas[0] + 1, closing, inner, reads)
                    below, after = {}, closing + 1
                break
            if "__" in step:  # an escaped property name: not the key itself
                break
            path.append(step)
            after += 2
        else:
            if (
                _is(tokens, after, ")") and index >= 2 and _is(tokens, index - 1, "(")
                and tokens[index - 2].kind == "ident" and not _is(tokens, index - 3, ".")
            ):
                function = tokens[index - 2].text
                if function == "size":
                    below = {EVERY: {}}
                elif function == "has" and len(path) > len(bound[1]):
                    below = {}
        _insert(reads, root, path, below)
        index = max(after, index + 1)


def expression_reads(text: str, roots: Iterable[str]) -> dict[str, ReadTree]:
    """What ``text`` reads from each of ``roots`` it names (a root it names but in a way the
    scan cannot follow is read whole; a root it does not name is absent)."""
    wanted = frozenset(roots)
    reads: dict[str, ReadTree] = {}
    try:
        tokens = _tokens(text)
        _scan(tokens, 0, len(tokens), {root: (root, ()) for root in wanted}, reads)
    except (_Unreadable, IndexError):
        return {root: None for root in wanted if re.search(rf"\b{root}\b", text)}
    return reads


_SCALARS = frozenset({str, int, float, bool, type(None)})


def prune(value: Any, tree: ReadTree, sizes: bool = False) -> Any:
    """``value`` with only the parts ``tree`` reads (shared, not copied: never mutate it).
    ``sizes`` (for :func:`held_key` only: the result is no CEL input then): a string of which
    only the number of elements is read stands as its length (see :func:`held_key`)."""
    if tree is None:
        return value
    kind = value.__class__  # (decoded JSON: dict, list, scalars; isinstance is the slow path)
    if kind in _SCALARS:
        if sizes and kind is str and tree == _SIZE_ONLY:
            return orjson.Fragment(b"#%d,%d" % (len(value), len(value.encode())))
        return value
    if kind is dict or (kind is not list and isinstance(value, Mapping)):
        every = tree.get(EVERY)
        if EVERY in tree:
            return {
                key: prune(item, _merge(every, tree[key]) if key in tree else every, sizes)
                for key, item in value.items()
            }
        return {key: prune(value[key], below, sizes) for key, below in tree.items() if key in value}
    if (kind is list or isinstance(value, list)) and EVERY in tree:
        every = tree[EVERY]
        return value if every is None else [prune(item, every, sizes) for item in value]
    return value


_SIZE_ONLY: ReadTree = {EVERY: {}}


def held_key(value: Any, tree: ReadTree) -> bytes:
    """What decides every outcome of expressions reading ``tree`` of ``value``, as JSON bytes
    (a memo key: equal keys, equal outcomes): :func:`prune`'s value, except that a string read
    only as a number of elements (``{"*": {}}``: ``size(x)``/``x.size()``; the macros over
    ``x`` fail for every string alike, and any other use of it keeps it whole) is written as
    its lengths, ``#<code points>,<UTF-8 bytes>``: not JSON, so no value's own JSON can read
    the same. Both, as CEL's size of a string is its code points but the binding's is its
    UTF-8 bytes (``size("ü")`` is 2 there); strings equal in both have one size either way.
    A name-length rule then decides once per length, not once per name (bench_apiserver's
    name rules ran the CEL binding on every pod create).
    TypeError: the value is not JSON."""
    return orjson.dumps(prune(value, tree, sizes=True))
